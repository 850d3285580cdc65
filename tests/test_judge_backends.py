"""Judges on real models: a tiny Llama through the hf backend, Gemma 3 270M through llama.cpp's server."""

from __future__ import annotations

import math

import pytest

from rewardlab import load_reward
from rewardlab.rewards.base import PairwiseReward
from rewardlab.types import Sample

Q = "What is 2 + 2?"
A, B = Sample(Q, "2 + 2 = 4."), Sample(Q, "It is 5.")


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("judge"), chat_template=True, max_positions=4096)


def test_logprob_pairwise_reads_the_verdict_distribution(judge_model):
    judge = load_reward(f"judge:hf:{judge_model},protocol=pairwise,mode=logprob,position=both_mean")
    assert isinstance(judge, PairwiseReward)
    ab, ba = judge.compare(A, B), judge.compare(B, A)
    assert ab + ba == pytest.approx(1.0, abs=1e-9)  # both_mean in logprob mode is exactly antisymmetric
    (first, _), = judge.both_orders([(A, B)])
    probs = judge.generator.verdict_probs([judge.protocol.render(Q, [A.response, B.response])], ["A", "B"], "[[")[0]
    assert first.values[0] == pytest.approx(probs.probs["A"] / probs.mass)
    assert 0 < first.components["verdict_mass"] < 1


def test_logprob_scores_do_not_depend_on_the_batch(judge_model):
    judge = load_reward(f"judge:hf:{judge_model},protocol=correctness,mode=logprob")
    samples = [Sample(Q, r, reference="4") for r in ("4", "5", "The answer is 4.", ":")]
    together = [s.value for s in judge.score(samples)]
    alone = [judge.score([s])[0].value for s in samples]
    assert together == pytest.approx(alone, abs=1e-6) and all(0 < v < 1 for v in together)


def test_generate_mode_counts_what_a_weak_judge_cannot_say(judge_model):
    judge = load_reward(f"judge:hf:{judge_model},protocol=pairwise,max_tokens=6")
    (pj,) = judge.compare_pairs([(A, B)])
    assert math.isnan(pj.p) and pj.error  # a random tiny model writes no [[A]] / [[B]]
    tied = load_reward(f"judge:hf:{judge_model},protocol=pairwise,max_tokens=6,failure=tie")
    assert tied.compare(A, B) == 0.5
    assert judge.generator.stats.completion_tokens >= 6


def test_openai_judge_against_llama_cpp(llama_server, llama_logprob_server, tmp_path):
    cache = tmp_path / "judge.sqlite"
    spec = f"judge:openai:{llama_server.spec(cache=cache)},protocol=correctness,max_tokens=3"
    judge = _judge(spec, llama_server)
    samples = [Sample(Q, "Thought process:", reference="4")]
    scores = judge.score(samples)
    assert all((s.ok and s.value in (0.0, 1.0)) or s.error for s in scores)
    sent = judge.generator.stats.requests
    again = _judge(spec, llama_server)
    assert [s.value for s in again.score(samples)] == pytest.approx([s.value for s in scores], nan_ok=True)
    assert again.generator.stats.requests == 0 and sent == 1  # the re-run came from the cache

    logprob = _judge(f"judge:openai:{llama_logprob_server.spec(cache=cache)},protocol=correctness,mode=logprob",
                     llama_logprob_server)
    (score,) = logprob.score(samples[:1])
    # a 270M base model may put neither YES nor NO in its top 20: then the item is a counted failure, not 0
    assert (score.ok and 0 <= score.value <= 1) or score.error == "no verdict among the top log-probabilities"
    assert "P(YES)" in score.rationale


def _judge(spec, server):
    from rewardlab.rewards.judge import from_spec

    return from_spec(spec.removeprefix("judge:"), api_key=server.api_key)

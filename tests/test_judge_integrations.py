"""A judge wherever a reward goes: TRL ``reward_funcs`` (async, per completion and per group), verl's async
``compute_score``, and the reward server. Scores are compared with the judge called directly."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from judge_fakes import ScriptedJudge
from rewardlab.integrations.trl import reward_func
from rewardlab.rewards.judge import JudgeConfig, JudgeReward
from rewardlab.types import Sample


@pytest.fixture(scope="module")
def correctness_spec(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    path = tiny_llama(tmp_path_factory.mktemp("judge"), chat_template=True, max_positions=2048)
    return f"judge:hf:{path},protocol=correctness,mode=logprob"


def test_trl_async_reward_func_runs_the_judge_on_trls_loop(correctness_spec):
    from rewardlab import load_reward

    prompts, completions, answers = ["What is 2 + 2?"] * 3, ["4", "5", "Thought process:"], ["4"] * 3
    direct = [s.value for s in load_reward(correctness_spec).score(
        [Sample(p, c, reference=a) for p, c, a in zip(prompts, completions, answers)])]
    func = reward_func(correctness_spec, asynchronous=True)
    got = asyncio.run(func(prompts=prompts, completions=completions, answer=answers))
    assert got == pytest.approx(direct, abs=1e-9)
    assert reward_func(correctness_spec)(prompts=prompts, completions=completions, answer=answers) == \
        pytest.approx(direct, abs=1e-9)


def test_trl_group_reward_chunks_by_num_generations():
    def scores(text, params, k):
        answers = [line for line in text.split("\n") if line and not line.startswith(("<", "Responses"))]
        return json.dumps({"scores": [{"id": str(i + 1), "score": min(1.0, len(a) / 10)}
                                      for i, a in enumerate(answers[1:])]})

    judge = JudgeReward(ScriptedJudge(scores), JudgeConfig(protocol="group"))
    prompts = ["p1", "p1", "p2", "p2"]
    completions = ["a", "aaaaa", "bb", "bbbbbbbbbb"]
    sync = reward_func(judge, group_size=2)(prompts=prompts, completions=completions)
    assert sync == pytest.approx([0.1, 0.5, 0.2, 1.0])
    assert asyncio.run(reward_func(judge, asynchronous=True, group_size=2)(
        prompts=prompts, completions=completions)) == pytest.approx(sync)
    calls = [n for n, _ in judge.generator.calls]
    assert calls == [1, 1, 1, 1]  # one judge call per group, never one per completion
    with pytest.raises(ValueError, match="num_generations"):
        reward_func(judge, group_size=3)(prompts=prompts, completions=completions)


def test_verl_async_compute_score(correctness_spec):
    from rewardlab.integrations.verl import make_async_compute_score, make_compute_score

    extra = {"question": "What is 2 + 2?"}
    sync = make_compute_score(correctness_spec)("gsm8k", "4", "4", extra)
    compute = make_async_compute_score(correctness_spec)
    assert asyncio.iscoroutinefunction(compute)

    async def many():
        return await asyncio.gather(*(compute("gsm8k", r, "4", dict(extra)) for r in ("4", "5")))

    got = asyncio.run(many())
    assert got[0] == pytest.approx(sync, abs=1e-9) and 0 < got[1] < 1


def test_the_server_serves_a_judge(correctness_spec):
    from rewardlab import load_reward
    from rewardlab.serve import ServeConfig, ServerThread, create_app

    judge = load_reward(correctness_spec)
    rows = [{"prompt": "What is 2 + 2?", "response": r, "reference": "4"} for r in ("4", "five")]
    expected = [s.value for s in judge.score([Sample(r["prompt"], r["response"], reference="4") for r in rows])]
    with ServerThread(create_app(judge, ServeConfig(spec=correctness_spec))) as server:
        reply = httpx.post(server.url + "/v1/score", json={"samples": rows}, timeout=60)
    assert reply.status_code == 200, reply.text
    got = [item["value"] for item in reply.json()["scores"]]
    assert got == pytest.approx(expected, abs=1e-9)

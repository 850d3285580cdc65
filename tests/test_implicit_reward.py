"""The ``implicit:`` family: each mode's arithmetic by hand and against direct log-prob sums, CDR, the
implicit PRM's step rewards, the reference recorded by DPO training, and the errors for bad specs."""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch

from rewardlab import load_reward
from rewardlab.rewards.implicit import (
    DPO_RECORD,
    ImplicitReward,
    aggregate,
    process_from_spec,
    sequence_reward,
    step_starts,
    step_sums,
)
from rewardlab.types import Sample

PROMPT = "what is two plus two ?"
SAMPLES = [
    Sample(PROMPT, "Step 1: 2 + 2 = 4.\n\nThe answer is 4.", steps=("Step 1: 2 + 2 = 4.", "The answer is 4.")),
    Sample(PROMPT, "Step 1: 2 + 2 = 5.\n\nThe answer is 5.", steps=("Step 1: 2 + 2 = 5.", "The answer is 5.")),
    Sample("the quick", " brown fox"),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    root = tmp_path_factory.mktemp("implicit")
    return str(tiny_llama(root / "policy", seed=1)), str(tiny_llama(root / "ref", seed=2))


@functools.lru_cache(maxsize=4)
def plain_model(path: str):
    from transformers import AutoModelForCausalLM

    from rewardlab.engine.loading import load_tokenizer

    return AutoModelForCausalLM.from_pretrained(path).eval(), load_tokenizer(path)


def direct_sum(path: str, sample: Sample, upto_char: int | None = None) -> tuple[float, int]:
    """Sum of response-token log-probs from a plain forward, optionally only tokens starting before a char."""
    model, tok = plain_model(path)
    prompt = [tok.bos_token_id] + tok(sample.prompt, add_special_tokens=False)["input_ids"]
    enc = tok(sample.response, add_special_tokens=False, return_offsets_mapping=True)
    response = enc["input_ids"] + [tok.eos_token_id]
    starts = [o[0] for o in enc["offset_mapping"]] + [len(sample.response)]
    with torch.no_grad():
        logp = model(torch.tensor([prompt + response])).logits[0].double().log_softmax(-1)
    keep = [j for j in range(len(response)) if upto_char is None or starts[j] < upto_char]
    return sum(float(logp[len(prompt) + j - 1, response[j]]) for j in keep), len(response)


def test_mode_arithmetic_by_hand():
    pi = np.array([-1.0, -2.0, -3.0])
    ref = np.array([-1.5, -1.0, -4.0])
    assert sequence_reward(pi, ref, "sum", 0.5) == pytest.approx(0.5 * (-6.0 - -6.5))  # 0.25
    assert sequence_reward(pi, ref, "mean", 0.5) == pytest.approx(0.5 * (-2.0 - -6.5 / 3))
    assert sequence_reward(pi, None, "ref_free_sum", 1.0) == pytest.approx(-6.0)
    assert sequence_reward(pi, None, "ref_free_avg", 1.0) == pytest.approx(-2.0)
    assert sequence_reward(pi, None, "norm", 1.0) == pytest.approx(-math.sqrt(1 + 4 + 9))


def test_steps_arithmetic_by_hand():
    text = "ab\n\ncd\n\nef"
    assert step_starts(text, None, "\n\n") == [0, 4, 8]
    assert step_starts(text + "\n\n", None, "\n\n") == [0, 4, 8]  # trailing separator is no step
    assert step_starts("x" + text, ("ab", "cd", "ef"), "\n\n") == [0, 5, 9]  # leading text joins step 0
    with pytest.raises(ValueError, match="step 1"):
        step_starts(text, ("ab", "zz"), "\n\n")
    # tokens: "ab" (0,2) "\n\n" (2,4) "cd" (4,6) "\n\n" (6,8) "ef" (8,10) eos (10,10)
    offsets = [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10), (10, 10)]
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert step_sums(values, offsets, [0, 4, 8]).tolist() == [3.0, 7.0, 11.0]  # separator with step before
    assert aggregate([3.0, -1.0, 2.0], "min") == -1.0
    assert aggregate([3.0, -1.0, 2.0], "last") == 2.0
    assert aggregate([3.0, -1.0, 2.0], "sum") == 4.0
    assert aggregate([3.0, -1.0, 2.0], "mean") == pytest.approx(4 / 3)


def test_dpo_reward_equals_direct_sums(models, tmp_path):
    policy, ref = models
    reward = load_reward(f"implicit:policy={policy},ref={ref},beta=0.5,cache={tmp_path / 'c.sqlite'}")
    scores = reward.score(SAMPLES)
    for sample, score in zip(SAMPLES, scores):
        (sp, tp), (sr, tr) = direct_sum(policy, sample), direct_sum(ref, sample)
        assert score.value == pytest.approx(0.5 * (sp - sr), abs=1e-4)
        assert score.components["policy_logp"] == pytest.approx(sp, abs=1e-4)
        assert score.components["ref_logp"] == pytest.approx(sr, abs=1e-4)
        assert score.components["tokens"] == tp
    mean = ImplicitReward.from_spec(f"policy={policy},ref={ref},beta=0.5,mode=mean,cache=none")
    for sample, score in zip(SAMPLES, mean.score(SAMPLES)):
        (sp, tp), (sr, tr) = direct_sum(policy, sample), direct_sum(ref, sample)
        assert score.value == pytest.approx(0.5 * (sp / tp - sr / tr), abs=1e-5)


def test_reference_free_modes(models):
    policy, _ = models
    direct = [direct_sum(policy, s) for s in SAMPLES]
    for mode, expected in (("ref_free_sum", [s for s, _ in direct]),
                           ("ref_free_avg", [s / t for s, t in direct])):
        scores = load_reward(f"implicit:{policy},mode={mode},beta=1").score(SAMPLES)
        assert [s.value for s in scores] == pytest.approx(expected, abs=1e-4)
    norm = load_reward(f"implicit:{policy},mode=norm,beta=1").score(SAMPLES)
    assert all(s.value < 0 and s.value >= s.components["policy_logp"] for s in norm)  # -||v||_2 >= sum(v)


def test_cdr_and_context(models, tmp_path):
    strong, weak = models
    scores = load_reward(f"implicit:cdr,strong={strong},weak={weak},cache=none").score(SAMPLES)
    for sample, score in zip(SAMPLES, scores):
        assert score.value == pytest.approx(direct_sum(strong, sample)[0] - direct_sum(weak, sample)[0], abs=1e-4)
    criteria = tmp_path / "criteria.txt"
    criteria.write_text("Prefer correct arithmetic.")
    custom = load_reward(f"implicit:cdr,strong={strong},weak={weak},cache=none,context={criteria}")
    shown = Sample(f"Prefer correct arithmetic.\n\n{PROMPT}", SAMPLES[0].response)
    expected = direct_sum(strong, shown)[0] - direct_sum(weak, shown)[0]
    assert custom.score(SAMPLES[:1])[0].value == pytest.approx(expected, abs=1e-4)


def test_implicit_prm_step_rewards(models):
    policy, ref = models
    reward = load_reward(f"implicit:policy={policy},ref={ref},beta=0.5,steps=true,agg=min,cache=none")
    scores = reward.score(SAMPLES)
    for sample, score in zip(SAMPLES[:2], scores):
        assert len(score.steps) == 2
        assert sum(score.steps) == pytest.approx(score.components["outcome"], abs=1e-6)
        assert score.value == min(score.steps)
        boundary = sample.response.index(sample.steps[1])  # the "\n\n" belongs to step 0
        first = 0.5 * (direct_sum(policy, sample, boundary)[0] - direct_sum(ref, sample, boundary)[0])
        assert score.steps[0] == pytest.approx(first, abs=1e-4)
    assert len(scores[2].steps) == 1  # no steps given: split on step_sep, one step
    bad = Sample(PROMPT, "Step 1: 2 + 2 = 4.", steps=("Step 1: 2 + 2 = 4.", "missing"))
    failed = reward.score([bad])[0]
    assert not failed.ok and "not found" in failed.error
    routed = process_from_spec(f"implicit,policy={policy},ref={ref},beta=0.5,cache=none")
    for a, b in zip(routed.score(SAMPLES[:2]), scores[:2]):
        assert a.steps == pytest.approx(b.steps, abs=1e-5)


def test_shared_prompt_scores_equal_naive(models):
    policy, ref = models
    group = [Sample(PROMPT, f" the answer is {k} .") for k in range(6)] + SAMPLES
    shared = load_reward(f"implicit:policy={policy},ref={ref},cache=none,share_prompt=true").score(group)
    naive = load_reward(f"implicit:policy={policy},ref={ref},cache=none,share_prompt=false").score(group)
    assert [s.value for s in shared] == pytest.approx([s.value for s in naive], abs=1e-4)


def test_too_long_input_is_a_counted_failure(models):
    policy, ref = models
    reward = load_reward(f"implicit:policy={policy},ref={ref},cache=none,max_length=12,truncation=drop")
    scores = reward.score([Sample("hi", " 4"), Sample(PROMPT, " the answer is 4 . " * 5)])
    assert scores[0].ok and not scores[1].ok and "max_length 12" in scores[1].error
    assert reward.provenance()["policy"]["dropped"] == 1


def test_reference_comes_from_dpo_record(models, tmp_path):
    import shutil

    policy, ref = models
    trained = tmp_path / "trained"
    shutil.copytree(policy, trained)
    (trained / DPO_RECORD).write_text(json.dumps({"reference": ref, "beta": 0.25}))
    reward = load_reward(f"implicit:policy={trained},cache=none")
    assert reward.options.ref == ref and reward.options.beta == 0.25 and reward.options.mode == "sum"
    explicit = load_reward(f"implicit:policy={policy},ref={ref},beta=0.25,cache=none")
    assert reward.score(SAMPLES)[0].value == pytest.approx(explicit.score(SAMPLES)[0].value, abs=1e-6)
    # the recorded reference was overwritten since training: refuse rather than score against it
    (trained / DPO_RECORD).write_text(json.dumps({"reference": ref, "reference_sha256": "0" * 64}))
    with pytest.raises(ValueError, match="weights changed"):
        load_reward(f"implicit:policy={trained},cache=none")


@pytest.mark.parametrize("spec, message", [
    ("implicit:policy={p}", "no reference model"),
    ("implicit:policy={p},ref={p},mode=norm", "reference-free"),
    ("implicit:policy={p},mode=mean", "needs ref"),
    ("implicit:policy={p},ref={p},mode=median", "unknown mode"),
    ("implicit:policy={p},ref={p},colour=red", "unknown implicit option"),
    ("implicit:policy={p},ref={p},mode=mean,steps=true", "steps=true"),
    ("implicit:policy={p},ref={p},steps=true,agg=max", "unknown agg"),
    ("implicit:cdr,strong={p}", "weak"),
    ("implicit:ref={p}", "policy=PATH"),
    ("implicit:policy={p},ref={p},beta=abc", "beta='abc' is not a number"),
    ("implicit:policy={p},ref={p},beta=-1", "must be positive"),
    ("implicit:policy={p},ref={p},max_length=1.5", "not an integer"),
])
def test_bad_specs_fail_at_load(models, spec, message):
    with pytest.raises(ValueError, match=message):
        load_reward(spec.format(p=models[0]))

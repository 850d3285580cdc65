"""The world tokenizer and the tiny policy: real training, saving, loading and batched generation."""

from __future__ import annotations

import pytest
import torch

from rewardlab.synth.policy import (
    PRESETS,
    build_model,
    default_policy,
    generate,
    load_policy,
    policy_card,
    sft,
    sft_batch,
    train_policy,
    with_overrides,
)
from rewardlab.synth.tokenizer import build_tokenizer, world_corpus
from rewardlab.synth.world import generate_problems


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(world_corpus(300))


@pytest.fixture(scope="module")
def tiny_policy_dir(tmp_path_factory):
    return train_policy(tmp_path_factory.mktemp("policy") / "tiny", "tiny", eval_problems=8, progress=False)


def test_tokenizer_roundtrip_digits_and_prompt_boundary(tokenizer):
    problems = generate_problems(30, seed=9)
    for p in problems:
        whole = tokenizer(p.prompt + p.solution).input_ids
        assert whole[0] == tokenizer.bos_token_id
        assert whole == tokenizer(p.prompt).input_ids + tokenizer(p.solution, add_special_tokens=False).input_ids
        assert tokenizer.decode(whole, skip_special_tokens=True) == p.prompt + p.solution
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("= 158.", add_special_tokens=False).input_ids)
    assert [t for t in pieces if any(ch.isdigit() for ch in t)] == ["1", "5", "8"]
    assert tokenizer.decode(tokenizer("héllo ∑ 12").input_ids, skip_special_tokens=True) == "héllo ∑ 12"


def test_sft_batch_masks_the_prompt(tokenizer):
    p = generate_problems(1, seed=0)[0]
    batch = sft_batch(tokenizer, [p, generate_problems(2, seed=0)[1]])
    n_prompt = len(tokenizer(p.prompt).input_ids)
    labels = batch["labels"][0]
    assert (labels[:n_prompt] == -100).all()
    n_answer = int(batch["attention_mask"][0].sum()) - n_prompt
    assert labels[n_prompt:n_prompt + n_answer].tolist()[-1] == tokenizer.eos_token_id
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_sft_lowers_the_loss(tokenizer, family):
    config = with_overrides(PRESETS["tiny"], family=family, steps=20, lr=5e-3, batch_size=8)
    model = build_model(config, tokenizer)
    losses: list[float] = []
    result = sft(model, tokenizer, config, on_step=lambda step, loss: losses.append(loss))
    assert result["steps_done"] == 20 and len(losses) == 20
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:3]) / 3  # ~6.3 -> ~3.5 on this corpus


def test_trained_policy_saves_loads_and_generates(tiny_policy_dir):
    card = policy_card(tiny_policy_dir)
    assert card["training"]["steps_done"] == PRESETS["tiny"].steps
    assert {"greedy", "sampled", "problems"} <= set(card["accuracy"])
    assert 10_000 < card["parameters"] < 5_000_000
    model, tok = load_policy(tiny_policy_dir)
    prompts = [p.prompt for p in generate_problems(3, seed=21)]
    out = generate(model, tok, prompts, n=4, temperature=1.0, max_new_tokens=24, seed=5)
    assert [len(x) for x in out] == [4, 4, 4] and all(isinstance(t, str) for x in out for t in x)
    assert out == generate(model, tok, prompts, n=4, temperature=1.0, max_new_tokens=24, seed=5)
    assert len({t for x in out for t in x}) > 3  # sampling varies
    greedy = generate(model, tok, prompts, n=2, temperature=0.0, max_new_tokens=24)
    assert all(x[0] == x[1] for x in greedy)
    # batching does not change greedy output: one prompt alone gives the same text
    assert generate(model, tok, prompts[:1], n=1, temperature=0.0, max_new_tokens=24)[0] == greedy[0][:1]


def test_default_policy_trains_once_then_reuses(tmp_path, tiny_policy_dir):
    first = default_policy(tmp_path, size="tiny", progress=False)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert default_policy(tmp_path, size="tiny", progress=False) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    ref, _ = load_policy(tiny_policy_dir)
    again, _ = load_policy(first)  # same preset and seed: the same weights
    for a, b in zip(ref.parameters(), again.parameters()):
        torch.testing.assert_close(a, b)

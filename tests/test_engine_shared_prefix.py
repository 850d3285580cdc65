"""Shared-prefix scoring (a group's prompt run once, responses continued from its KV cache) gives the naive
path's scores for causal classifier RMs and PRMs, independent of batch size and order; encoders never share."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rewardlab import Sample
from rewardlab.engine.forward import BatchSettings
from rewardlab.engine.loading import load_sequence_classifier
from rewardlab.engine.prefix import find_groups, plan_group_batches
from rewardlab.rewards.base import load_reward
from rewardlab.rewards.classifier import ClassifierOptions, ClassifierReward
from test_prm_models import tiny_plusminus_prm, tiny_scalar_prm, tiny_token_prm

WORDS = "the reward model should prefer helpful honest and harmless answers over evasive ones".split()


def best_of_n(groups: int = 6, n: int = 8, seed: int = 0) -> list[Sample]:
    """``groups`` long prompts with ``n`` responses each, plus two lone samples (the naive path)."""
    rng = random.Random(seed)
    out = []
    for g in range(groups):
        prompt = f"Q{g}: " + " ".join(rng.choices(WORDS, k=rng.randint(20, 60)))
        out += [Sample(prompt, " ".join(rng.choices(WORDS, k=rng.randint(1, 30)))) for _ in range(n)]
    return out + [Sample("lonely prompt", "one"), Sample("another lonely one", "two words")]


def values(reward, samples) -> np.ndarray:
    return np.array([s.value for s in reward.score(samples)])


def test_classifier_shared_equals_naive_and_is_invariant(tiny_llama_rm_dir):
    samples = best_of_n()
    path = str(tiny_llama_rm_dir)
    naive = values(ClassifierReward(path, ClassifierOptions(share_prompt="false")), samples)
    assert np.std(naive) > 0  # the scores really vary, so the comparison means something
    for max_batch in (1, 5, 64):
        reward = ClassifierReward(path, ClassifierOptions(batch=BatchSettings(100_000, max_batch),
                                                          share_prompt="true"))
        np.testing.assert_allclose(values(reward, samples), naive, atol=1e-4, rtol=0)
        assert (reward.stats.shared_tokens > 0) == (max_batch > 1)  # one member per batch: nothing to share
        assert reward.provenance()["share_prompt"] is True
    order = list(range(len(samples)))
    random.Random(3).shuffle(order)
    np.testing.assert_allclose(values(reward, [samples[i] for i in order]), naive[order], atol=1e-4, rtol=0)
    small_budget = ClassifierReward(path, ClassifierOptions(batch=BatchSettings(300, 16), share_prompt="true"))
    np.testing.assert_allclose(values(small_budget, samples), naive, atol=1e-4, rtol=0)


def test_auto_shares_for_causal_models_only(tiny_llama_rm_dir, tiny_bert_dir):
    assert ClassifierReward(str(tiny_llama_rm_dir)).share_prompt is True
    assert ClassifierReward(str(tiny_bert_dir)).share_prompt is False  # bidirectional: would change scores
    with pytest.raises(ValueError, match="share_prompt=true, but bert is not a decoder-only"):
        ClassifierReward(str(tiny_bert_dir), ClassifierOptions(share_prompt="true"))
    with pytest.raises(ValueError, match="share_prompt='maybe'"):
        load_reward(f"classifier:{tiny_llama_rm_dir},share_prompt=maybe")
    assert load_reward(f"classifier:{tiny_llama_rm_dir},share_prompt=false").share_prompt is False


def test_pad_equal_to_eos_reads_the_same_token(tiny_llama_rm_dir):
    """With pad == eos, transformers reads the last non-pad token, which may sit before the shared prefix
    ends (an empty response): the prefix stops there, so the read position stays in every continuation."""
    prompt = "a prompt long enough to share " * 4
    samples = [Sample(prompt, r) for r in ("</s>", "helpful </s>", "honest answers", "")]
    scores = []
    for share in ("false", "true"):
        loaded = load_sequence_classifier(str(tiny_llama_rm_dir))
        loaded.tokenizer.pad_token = loaded.tokenizer.eos_token
        loaded.model.config.pad_token_id = loaded.tokenizer.eos_token_id
        scores.append(values(ClassifierReward(loaded, ClassifierOptions(share_prompt=share)), samples))
    np.testing.assert_allclose(scores[1], scores[0], atol=1e-4, rtol=0)


def test_groups_respect_read_limits_and_minimum():
    rows = [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 9], [1, 2, 3, 7], [8, 8]]
    groups, singles = find_groups(rows, ["p", "p", "p", "q"], [5, 4, 2, 1], min_prefix=1)
    assert [(g.members, g.prefix_len) for g in groups] == [((0, 1, 2), 2)] and singles == [3]
    groups, singles = find_groups(rows, ["p", "p", "p", "q"], [5, 4, 3, 1], min_prefix=4)
    assert groups == [] and singles == [0, 1, 2, 3]
    # a group never straddles batches; the budget counts each prefix once plus the continuations
    units = [((0, 1, 2), 10, 5), ((3, 4), 10, 5), ((5,), 2, 2)]
    assert plan_group_batches(units, 40, 8) == [[0], [1, 2]]  # 2*10 + 5*5 > 40 >= 2*10 + 3*5
    assert plan_group_batches(units, 1000, 4) == [[0], [1, 2]]  # 3 + 2 members > 4


@pytest.fixture(scope="module")
def prm_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared_prms")
    return {"token": tiny_token_prm(root / "token"), "plusminus": tiny_plusminus_prm(root / "plusminus"),
            "scalar": tiny_scalar_prm(root / "scalar"),
            "chat": tiny_plusminus_prm(root / "chat", chat_template=True),
            "bert": tiny_token_prm(root / "bert", arch="bert")}


def prm_groups(n: int = 4) -> list[Sample]:
    rng = random.Random(1)
    out = []
    for g in range(3):
        prompt = f"problem {g}: " + " ".join(rng.choices(WORDS, k=30))
        for _ in range(n):
            steps = tuple(" ".join(rng.choices(WORDS, k=rng.randint(2, 9))) for _ in range(rng.randint(1, 4)))
            out.append(Sample(prompt, "", steps=steps))
    return out + [Sample("solo", "", steps=("one step",))]


@pytest.mark.parametrize("kind", ["token", "plusminus", "scalar", "chat"])
def test_prm_shared_equals_naive(prm_dirs, kind):
    template = ",template=chat" if kind == "chat" else ""
    samples = prm_groups()
    naive = load_reward(f"process:{prm_dirs[kind]}{template},share_prompt=false").score(samples)
    for max_batch in (1, 3, 64):
        shared = load_reward(f"process:{prm_dirs[kind]}{template},share_prompt=true,max_batch_size={max_batch}")
        scores = shared.score(samples)
        assert (shared.stats.shared_tokens > 0) == (max_batch > 1)
        for got, want in zip(scores, naive):
            assert got.steps == pytest.approx(want.steps, abs=1e-4)
    order = list(range(len(samples)))
    random.Random(5).shuffle(order)
    for got, i in zip(shared.score([samples[i] for i in order]), order):
        assert got.steps == pytest.approx(naive[i].steps, abs=1e-4)
    flat = [v for s in naive for v in s.steps]
    assert max(flat) - min(flat) > 1e-4


def test_prm_auto_does_not_share_an_encoder(prm_dirs):
    assert load_reward(f"process:{prm_dirs['bert']}").share_prompt is False
    assert load_reward(f"process:{prm_dirs['plusminus']}").share_prompt is True
    with pytest.raises(ValueError, match="not a decoder-only"):
        load_reward(f"process:{prm_dirs['bert']},share_prompt=true")


def test_packing_equals_padded_path(tiny_llama_rm_dir, tiny_bert_dir):
    """packing=true (padding-free rows, block-diagonal mask) gives the padded path's scores within 1e-5."""
    samples = best_of_n(groups=3, n=3, seed=4)
    path = str(tiny_llama_rm_dir)
    padded = values(ClassifierReward(path, ClassifierOptions(share_prompt="false")), samples)
    for budget, max_batch in ((100_000, 64), (300, 16), (2048, 3)):
        packed = ClassifierReward(path, ClassifierOptions(batch=BatchSettings(budget, max_batch),
                                                          share_prompt="false", packing=True))
        np.testing.assert_allclose(values(packed, samples), padded, atol=1e-5, rtol=0)
        assert packed.stats.padded_tokens < packed.stats.real_tokens * 1.5
    both = ClassifierReward(path, ClassifierOptions(share_prompt="true", packing=True))
    np.testing.assert_allclose(values(both, samples), padded, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="packing=true, but bert"):
        load_reward(f"classifier:{tiny_bert_dir},packing=true")


def test_prm_packing_equals_padded_path(prm_dirs):
    samples = prm_groups(n=2)
    padded = load_reward(f"process:{prm_dirs['plusminus']},share_prompt=false").score(samples)
    packed = load_reward(f"process:{prm_dirs['plusminus']},share_prompt=false,packing=true,max_batch_size=3")
    for got, want in zip(packed.score(samples), padded):
        assert got.steps == pytest.approx(want.steps, abs=1e-5)
    with pytest.raises(ValueError, match="packing=true, but bert"):
        load_reward(f"process:{prm_dirs['bert']},packing=true")


def test_sliding_window_models_are_not_packed():
    """A custom 4D mask replaces the sliding-window mask transformers would build: such models never pack."""
    from transformers import MistralConfig, MistralForSequenceClassification

    from rewardlab.engine.prefix import unsupported_reason

    config = MistralConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                           num_attention_heads=2, num_key_value_heads=1, sliding_window=8)
    assert "sliding-window" in unsupported_reason(MistralForSequenceClassification(config))
    config.sliding_window = None
    assert unsupported_reason(MistralForSequenceClassification(config)) is None

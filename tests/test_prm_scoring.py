"""The `process:` family: one forward pass per solution gives the same step scores as one forward per
step prefix (causal PRMs), read from the same head the model's own forward uses."""

from __future__ import annotations

import pytest
import torch

from rewardlab.engine.encoding import InputTooLongError
from rewardlab.rewards.base import load_reward
from rewardlab.rewards.process import ProcessOptions, ProcessReward, aggregate, unescape
from rewardlab.types import Sample
from test_prm_models import tiny_plusminus_prm, tiny_scalar_prm, tiny_token_prm

SAMPLES = [
    Sample("what is 3 + 4 * 2 ?", "", steps=("Step 1: 4 * 2 = 8.", "Step 2: 3 + 8 = 11.", "The answer is 11.")),
    Sample("two plus two", "", steps=("2 + 2 = 4",)),
    Sample("how do I bake bread?", "", steps=("mix flour, water, yeast", "then bake .", "wait", "eat it")),
    Sample([{"role": "user", "content": "what is 7 - 2 ?"}], "", steps=("7 - 2 = 5", "The answer is 5.")),
]


@pytest.fixture(scope="module")
def prm_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("prms")
    return {
        "token": tiny_token_prm(root / "token"),
        "plusminus": tiny_plusminus_prm(root / "plusminus"),
        "scalar": tiny_scalar_prm(root / "scalar"),
        "chat": tiny_plusminus_prm(root / "chat", chat_template=True),
        "bert": tiny_token_prm(root / "bert", arch="bert"),
    }


@pytest.mark.parametrize("kind", ["token", "plusminus", "scalar"])
def test_single_pass_equals_per_prefix_for_causal_prms(prm_dirs, kind):
    reward = load_reward(f"process:{prm_dirs[kind]}")
    assert reward.kind.value == kind
    single = reward.score(SAMPLES)
    prefix = reward.score_per_prefix(SAMPLES)
    for score, naive, sample in zip(single, prefix, SAMPLES):
        assert len(score.steps) == len(sample.steps)
        assert score.steps == pytest.approx(naive, abs=1e-4)
    # and the scores are not all alike (a constant reader would pass the equality trivially)
    flat = [v for s in single for v in s.steps]
    assert max(flat) - min(flat) > 1e-4


def test_chat_layout_single_pass_equals_per_prefix(prm_dirs):
    """RLHFlow: steps are user turns answered by '+', read at the end of each generation prompt."""
    reward = load_reward(f"process:{prm_dirs['chat']},template=chat")
    single = reward.score(SAMPLES)
    prefix = reward.score_per_prefix(SAMPLES)
    for score, naive in zip(single, prefix):
        assert score.steps == pytest.approx(naive, abs=1e-4)
    ids, reads = reward.layout.encode(reward.tokenizer, SAMPLES[0].prompt, SAMPLES[0].steps)
    for r in reads:
        assert reward.tokenizer.decode(ids[: r + 1]).endswith("<|assistant|>")
    assert reward.tokenizer.decode(ids).count("<|assistant|>+") == len(SAMPLES[0].steps) - 1


def test_step_scores_match_the_models_own_forward(prm_dirs):
    """The gathered head equals the full model's logits at the tags (token and plus/minus kinds), and the
    scalar kind equals the sequence classifier's own pooled score on each prefix."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForTokenClassification

    sample = SAMPLES[0]
    for kind, cls in (("token", AutoModelForTokenClassification), ("plusminus", AutoModelForCausalLM)):
        reward = load_reward(f"process:{prm_dirs[kind]}")
        ids, reads = reward.layout.encode(reward.tokenizer, sample.prompt, sample.steps)
        with torch.no_grad():
            logits = cls.from_pretrained(prm_dirs[kind]).eval()(torch.tensor([ids])).logits[0, reads]
        if kind == "plusminus":
            plus, minus = (reward.tokenizer(t, add_special_tokens=False)["input_ids"][0] for t in "+-")
            logits = logits[:, [minus, plus]]
        expected = torch.softmax(logits, -1)[:, 1].tolist()
        assert reward.score([sample])[0].steps == pytest.approx(expected, abs=1e-5)
    reward = load_reward(f"process:{prm_dirs['scalar']}")
    model = AutoModelForSequenceClassification.from_pretrained(prm_dirs["scalar"]).eval()
    ids, reads = reward.layout.encode(reward.tokenizer, sample.prompt, sample.steps)
    with torch.no_grad():
        pooled = [model(torch.tensor([ids[: r + 1]])).logits[0, 0].item() for r in reads]
    assert reward.score([sample])[0].steps == pytest.approx(pooled, abs=1e-5)


def test_bidirectional_single_pass_differs_from_per_prefix(prm_dirs):
    """Documented limitation: a BERT-style PRM sees later steps, so single pass != per prefix."""
    reward = load_reward(f"process:{prm_dirs['bert']}")
    assert reward.layout.step_tag == "[SEP]"  # wordpiece drops "\n": the sep token is the tag
    single, prefix = reward.score(SAMPLES[:1])[0].steps, reward.score_per_prefix(SAMPLES[:1])[0]
    assert single[-1] == pytest.approx(prefix[-1], abs=1e-5)  # the whole solution is the same input
    assert max(abs(a - b) for a, b in zip(single[:-1], prefix[:-1])) > 1e-4


def test_scores_do_not_depend_on_batch_size_or_order(prm_dirs):
    path = prm_dirs["token"]
    big = load_reward(f"process:{path}").score(SAMPLES)
    small = load_reward(f"process:{path},max_batch_size=1").score(SAMPLES[::-1])[::-1]
    for a, b in zip(big, small):
        assert a.steps == pytest.approx(b.steps, abs=1e-5)


def test_aggregations_arithmetic():
    steps = [0.9, 0.5, 0.8]
    assert aggregate(steps, "min") == 0.5
    assert aggregate(steps, "last") == 0.8
    assert aggregate(steps, "product") == pytest.approx(0.9 * 0.5 * 0.8)  # 0.36
    assert aggregate(steps, "mean") == pytest.approx((0.9 + 0.5 + 0.8) / 3)  # 0.7333
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(steps, "sum")


@pytest.mark.parametrize("agg", ["min", "last", "product", "mean"])
def test_value_is_the_aggregate_and_steps_are_always_returned(prm_dirs, agg):
    scores = load_reward(f"process:{prm_dirs['token']},agg={agg}").score(SAMPLES)
    for s in scores:
        assert s.ok and s.steps
        assert s.value == pytest.approx(aggregate(s.steps, agg))


def test_response_without_steps_is_split_and_empty_response_fails(prm_dirs):
    reward = load_reward(f"process:{prm_dirs['token']}")
    split, given = reward.score([Sample("q", "a = 1\n\nb = 2"), Sample("q", "", steps=("a = 1", "b = 2"))])
    assert split.steps == pytest.approx(given.steps)
    empty = reward.score([Sample("q", "   ")])[0]
    assert not empty.ok and "no steps" in empty.error


def test_truncation_policies(prm_dirs):
    long = Sample("the quick brown fox " * 40, "", steps=("2 + 2 = 4", "The answer is 4."), metadata={
        "source": "f.jsonl:7"})
    early_tag_cut = Sample("q", "", steps=("2 + 2 = 4", "zebra xylophone " * 10))  # step 1 alone > 40
    reward = load_reward(f"process:{prm_dirs['token']},max_length=40")
    kept, failed = reward.score([long, early_tag_cut])
    assert kept.ok and len(kept.steps) == 2 and reward.truncated == 1
    assert not failed.ok and "tag of step 0" in failed.error and reward.dropped == 1
    dropped = load_reward(f"process:{prm_dirs['token']},max_length=40,truncation=drop").score([long])[0]
    assert not dropped.ok and dropped.error.startswith("dropped")
    with pytest.raises(InputTooLongError, match="f.jsonl:7"):
        load_reward(f"process:{prm_dirs['token']},max_length=40,truncation=error").score([long])


def test_layout_recorded_in_config_is_used_and_options_override_it(tmp_path):
    path = tiny_token_prm(tmp_path / "rec", record={"kind": "token", "step_tag": " ки", "prompt_sep": " "})
    assert load_reward(f"process:{path}").layout.step_tag == " ки"
    assert load_reward(f"process:{path},step_tag=\\n").layout.step_tag == "\n"


def test_bad_specs_fail_loudly(prm_dirs):
    with pytest.raises(ValueError, match="unknown process option"):
        ProcessOptions.from_dict({"aggregation": "min"})
    with pytest.raises(ValueError, match="unknown aggregation"):
        ProcessOptions.from_dict({"agg": "sum"})
    with pytest.raises(ValueError, match="kind='orm'; choose one of token, plusminus, scalar"):
        ProcessOptions.from_dict({"kind": "orm"})
    with pytest.raises(ValueError, match="truncate-right"):
        ProcessOptions.from_dict({"truncation": "truncate-right"})
    with pytest.raises(ValueError, match="needs probabilities"):
        load_reward(f"process:{prm_dirs['scalar']},agg=product")
    with pytest.raises(ValueError, match="must be one"):
        load_reward(f"process:{prm_dirs['plusminus']},plus=good answer")
    with pytest.raises(ValueError, match="template=chat needs"):
        load_reward(f"process:{prm_dirs['plusminus']},template=chat").score(SAMPLES[:1])


def test_unescape():
    assert unescape("\\n\\s\\t\\\\x ки") == "\n \t\\x ки"


def test_provenance_names_kind_and_layout(prm_dirs):
    reward = ProcessReward.from_spec(f"{prm_dirs['plusminus']},agg=last")
    reward.score(SAMPLES[:2])
    info = reward.provenance()
    assert info["kind"] == "plusminus" and info["aggregation"] == "last" and info["layout"]["plus"] == "+"
    assert info["weights_sha256"] and reward.stats.real_tokens > 0

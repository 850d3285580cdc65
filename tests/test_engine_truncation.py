"""Over-long inputs follow an explicit policy and are counted; nothing is cut or dropped silently."""

import math

import pytest

from rewardlab import Sample
from rewardlab.engine.encoding import InputTooLongError, encode_samples
from rewardlab.engine.loading import load_tokenizer, resolve_model_path


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model_path("minilm"))


LONG = Sample("alpha " * 200, "omega answer", metadata={"source": "pairs.jsonl:17"})
SHORT = Sample("short prompt", "short answer")


def test_truncate_left_keeps_the_response(tokenizer):
    enc = encode_samples(tokenizer, [LONG, SHORT], max_length=32, policy="truncate-left")
    assert enc.truncated == 1 and not enc.dropped
    assert len(enc.input_ids[0]) == 32
    text = tokenizer.decode(enc.input_ids[0])
    assert text.rstrip().endswith("omega answer [SEP]")


def test_truncate_right_keeps_the_start(tokenizer):
    sample = Sample("keep this prompt", "beta " * 200)
    enc = encode_samples(tokenizer, [sample], max_length=16, policy="truncate-right")
    assert enc.truncated == 1 and len(enc.input_ids[0]) == 16
    assert tokenizer.decode(enc.input_ids[0]).startswith("[CLS] keep this prompt [SEP]")


def test_drop_is_counted_and_scored_as_failure(tokenizer):
    from rewardlab.rewards.classifier import ClassifierOptions, ClassifierReward

    enc = encode_samples(tokenizer, [LONG, SHORT], max_length=32, policy="drop")
    assert enc.kept == [1] and "dropped" in enc.dropped[0]
    reward = ClassifierReward("minilm", ClassifierOptions(max_length=32, truncation="drop"))
    scores = reward.score([LONG, SHORT])
    assert math.isnan(scores[0].value) and "dropped" in scores[0].error
    assert scores[1].ok and reward.dropped == 1


def test_error_policy_names_the_source(tokenizer):
    with pytest.raises(InputTooLongError, match=r"pairs.jsonl:17: \d+ tokens > max_length 32"):
        encode_samples(tokenizer, [LONG], max_length=32, policy="error")

"""``classifier:...,normalize=true`` uses the reward mean/std stored in the model config, and is an error
(at load time, naming the fix) when the model stores none: before, it silently returned raw scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rewardlab import Sample, load_reward


def with_stored_stats(src: Path, dst: Path, mean: float | None, std: float | None) -> Path:
    """A copy of a model folder whose config.json stores ``reward_mean`` / ``reward_std``."""
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config.update({k: v for k, v in (("reward_mean", mean), ("reward_std", std)) if v is not None})
    (dst / "config.json").write_text(json.dumps(config))
    return dst


SAMPLES = [Sample("What is 2 + 2?", "4"), Sample("Hi", "Hello there, how can I help?")]


def test_normalize_without_stored_statistics_is_an_error(tiny_bert_dir, tmp_path):
    with pytest.raises(ValueError, match="normalize=true, but the model config stores no reward_mean"):
        load_reward(f"classifier:{tiny_bert_dir},normalize=true")
    only_mean = with_stored_stats(tiny_bert_dir, tmp_path / "mean-only", 0.5, None)
    with pytest.raises(ValueError, match="stores no reward_mean/reward_std"):
        load_reward(f"classifier:{only_mean},normalize=true")
    zero_std = with_stored_stats(tiny_bert_dir, tmp_path / "zero-std", 0.5, 0.0)
    with pytest.raises(ValueError, match="needs a positive std"):
        load_reward(f"classifier:{zero_std},normalize=true")


def test_normalize_with_stored_statistics_standardises(tiny_bert_dir, tmp_path):
    model = with_stored_stats(tiny_bert_dir, tmp_path / "stats", 0.25, 4.0)
    raw = [s.value for s in load_reward(f"classifier:{model}").score(SAMPLES)]
    normalized = [s.value for s in load_reward(f"classifier:{model},normalize=true").score(SAMPLES)]
    assert normalized == pytest.approx([(v - 0.25) / 4.0 for v in raw], rel=1e-6)
    assert [s.value for s in load_reward(f"classifier:{model},normalize=false").score(SAMPLES)] == raw


def test_normalize_flag_must_be_true_or_false(tiny_bert_dir):
    with pytest.raises(ValueError, match="normalize='maybe': use true or false"):
        load_reward(f"classifier:{tiny_bert_dir},normalize=maybe")

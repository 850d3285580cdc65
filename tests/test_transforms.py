"""Reward transforms: each formula checked against arithmetic written out in the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.rewards.transforms import (
    PPOCalibration,
    RunningStats,
    TransformSpecError,
    clip,
    extract_confidence,
    par,
    parse_transforms,
    soft_overlong_penalty,
    step_clip,
    step_delta,
    zscore,
)


def test_zscore_with_stored_statistics():
    # (3 - 1) / 2 = 1, (0 - 1) / 2 = -0.5; NaN stays NaN.
    out = zscore([3.0, 0.0, np.nan], mean=1.0, std=2.0, eps=0.0)
    assert out[:2].tolist() == [1.0, -0.5] and math.isnan(out[2])
    with pytest.raises(ValueError):
        zscore([1.0], 0.0, -1.0)


def test_running_stats_equal_the_statistics_of_everything_seen():
    stats = RunningStats()
    stats.update([1.0, 2.0, 3.0])
    stats.update([np.nan, 10.0])  # NaN never enters a statistic
    # all values 1, 2, 3, 10: mean 4, population variance ((9 + 4 + 1 + 36) / 4) = 12.5
    assert stats.count == 4
    assert stats.mean == pytest.approx(4.0)
    assert stats.std == pytest.approx(math.sqrt(12.5))
    first = RunningStats().normalize([2.0, 4.0])  # first batch: its own stats, mean 3, std 1
    assert first.tolist() == pytest.approx([-1.0, 1.0])


def test_clip():
    assert clip([-5.0, 0.5, 7.0], -1.0, 1.0).tolist() == [-1.0, 0.5, 1.0]
    with pytest.raises(ValueError):
        clip([0.0], 2.0, 1.0)


def test_par_is_sigmoid_of_centred_reward():
    # sigmoid(0) = 0.5; sigmoid(ln 3) = 3 / (1 + 3) = 0.75
    out = par([2.0, 1.0 + math.log(3)], [2.0, 1.0])
    assert out.tolist() == pytest.approx([0.5, 0.75])
    # two references: mean of sigmoid(0) = 0.5 and sigmoid(ln 3) = 0.75 -> 0.625
    assert par([math.log(3)], [[math.log(3), 0.0]]).tolist() == pytest.approx([0.625])
    # bounded in (0, 1) however large the raw reward: the point of PAR
    assert 0.0 < par([1e6], [0.0])[0] <= 1.0


def test_step_clip_and_delta():
    r = [0.9, 0.8, 0.3]
    # clip with eta = 0.5: min(r - 0.5, 0) -> [0, 0, -0.2]; no step can add positive reward
    assert step_clip(r, 0.5).tolist() == pytest.approx([0.0, 0.0, -0.2])
    # delta: [0.9 - 0.8, 0.8 - 0.3, 0.3] = [0.1, 0.5, 0.3]; the sum telescopes to r_1 = 0.9
    delta = step_delta(r)
    assert delta.tolist() == pytest.approx([0.1, 0.5, 0.3])
    assert delta.sum() == pytest.approx(0.9)
    assert step_delta([]).size == 0


def test_soft_overlong_matches_dapo_and_trl():
    # L_max 100, L_cache 20: free up to 80; 90 -> (80 - 90) / 20 = -0.5; beyond 100 -> -1
    assert soft_overlong_penalty([50, 80, 90, 100, 101], 100, 20).tolist() == [0.0, 0.0, -0.5, -1.0, -1.0]
    trl_rewards = pytest.importorskip("trl.rewards")
    theirs = trl_rewards.get_soft_overlong_punishment(100, 20)([[1] * n for n in (50, 85, 90, 99, 120)])
    assert soft_overlong_penalty([50, 85, 90, 99, 120], 100, 20).tolist() == pytest.approx(theirs)


def test_ppo_c_threshold_and_difference():
    cal = PPOCalibration(alpha=0.5, weight=0.5, mode="threshold", average=0.0)
    # batch mean 1.0 -> average = 0.5 * 0 + 0.5 * 1.0 = 0.5
    # r = 2 (>= 0.5), c = 0.9: adj = 0.5 * |2| * 0.4 = 0.4 -> 2.4   (confident and good: up)
    # r = 0 (<  0.5), c = 0.9: adj = 0.5 * 0 * 0.4 = 0       -> 0
    # r = 1 (>= 0.5), c = 0.1: adj = 0.5 * 1 * -0.4 = -0.2   -> 0.8 (unconfident and good: down)
    out = cal([2.0, 0.0, 1.0], [0.9, 0.9, 0.1])
    assert cal.average == pytest.approx(0.5)
    assert out.tolist() == pytest.approx([2.4, 0.0, 0.8])
    diff = PPOCalibration(alpha=1.0, weight=1.0, mode="difference")
    # average becomes mean([3, -1]) = 1; r' = r + 1 * (r - 1) * (c - 0.5)
    assert diff([3.0, -1.0], [1.0, 1.0]).tolist() == pytest.approx([3.0 + 2 * 0.5, -1.0 - 2 * 0.5])
    # average = 0.5 * 0 + 0.5 * (-1) = -0.5; r = -1 < -0.5, c = 0.9: adj = 0.5 * 1 * 0.4 = 0.2
    # -> -1 - 0.2 = -1.2 (confident and bad: pushed further down)
    assert PPOCalibration(alpha=0.5)([-1.0], [0.9]).tolist() == pytest.approx([-1.2])


def test_extract_confidence():
    assert extract_confidence("The answer is 4. Confidence: 8/10") == pytest.approx(0.8)
    assert extract_confidence("Confidence: 15") == 1.0
    assert extract_confidence("no confidence stated") == 0.5


def test_transform_specs_validate_with_paths():
    steps = parse_transforms([{"zscore": "running"}, {"clip": [-3, 3]}, "step_delta"], "rewards.rm.transforms")
    assert [s.kind for s in steps] == ["zscore", "clip", "step_delta"]
    unknown = r"rewards.rm.transforms\[1\]: unknown transform 'clamp'; did you mean 'clip'"
    with pytest.raises(TransformSpecError, match=unknown):
        parse_transforms([{"scale": 2}, {"clamp": [0, 1]}], "rewards.rm.transforms")
    with pytest.raises(TransformSpecError, match=r"\[0\].zscore.std: must be a finite number"):
        parse_transforms([{"zscore": {"mean": 0, "std": "wide"}}], "t")
    with pytest.raises(TransformSpecError, match="par must be the first transform"):
        parse_transforms([{"scale": 2}, "par"], "t")
    with pytest.raises(TransformSpecError, match="low 3.0 > high 1.0"):
        parse_transforms([{"clip": {"low": 3, "high": 1}}], "t")

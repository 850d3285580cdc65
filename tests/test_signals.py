"""RL signals: GRPO / RLOO advantages and step credit, with the arithmetic written out."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.signals import (
    EPS,
    combine_rewards,
    dense_token_rewards,
    gated_return,
    grpo_advantages,
    min_form_returns,
    nanstd,
    rloo_advantages,
    softmin_rewards,
    sum_form_returns,
)

SD = math.sqrt(1 / 3)  # unbiased std of [1, 0, 0, 1]: mean 0.5, squares sum 1, / (4 - 1)


def test_grpo_group_scaling():
    # group 1 = [1, 0, 0, 1]: (r - 0.5) / (sqrt(1/3) + 1e-4); group 2 all equal -> zero advantage
    adv = grpo_advantages([1, 0, 0, 1, 2, 2, 2, 2], group_size=4)
    a = 0.5 / (SD + EPS)
    assert adv.tolist() == pytest.approx([a, -a, -a, a, 0, 0, 0, 0])


def test_grpo_batch_and_no_scaling():
    r = [1, 0, 0, 1, 2, 2, 2, 2]
    # batch: group means (0.5 and 2) but one unbiased std over all 8 values (mean 1.25): deviations
    # -0.25 (twice), -1.25 (twice), 0.75 (four times) -> variance (0.0625 * 2 + 1.5625 * 2 + 0.5625 * 4) / 7
    batch_sd = math.sqrt((0.0625 * 2 + 1.5625 * 2 + 0.5625 * 4) / 7)
    adv = grpo_advantages(r, 4, scale="batch")
    b = 0.5 / (batch_sd + EPS)
    assert adv.tolist() == pytest.approx([b, -b, -b, b, 0, 0, 0, 0])
    assert grpo_advantages(r, 4, scale="none").tolist() == [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="groups of 3"):
        grpo_advantages(r, 3)


def test_grpo_ignores_unscorable_completions():
    # [1, NaN, 0]: mean 0.5 and unbiased std sqrt(0.5) over the two scorable; NaN -> advantage 0
    adv = grpo_advantages([1, np.nan, 0], 3)
    a = 0.5 / (math.sqrt(0.5) + EPS)
    assert adv.tolist() == pytest.approx([a, 0.0, -a])


def test_nanstd_is_unbiased_and_nan_below_two_values():
    assert float(nanstd(np.array([1.0, 0.0, 0.0, 1.0]))) == pytest.approx(SD)
    assert math.isnan(float(nanstd(np.array([3.0, np.nan]))))


def test_rloo_leave_one_out():
    # [1, 2, 3]: baselines (2 + 3) / 2 = 2.5, (1 + 3) / 2 = 2, (1 + 2) / 2 = 1.5
    assert rloo_advantages([1, 2, 3], 3).tolist() == [-1.5, 0.0, 1.5]
    # NaN is left out: [4, NaN, 6] -> baselines 6 and 4 over the 2 scorable
    assert rloo_advantages([4, np.nan, 6], 3).tolist() == [-2.0, 0.0, 2.0]
    # a group with one scorable completion carries no signal
    assert rloo_advantages([5, np.nan], 2).tolist() == [0.0, 0.0]
    norm = rloo_advantages([1, 2, 3, 1, 2, 3], 3, normalize=True)
    sd = math.sqrt((1.5**2 * 4) / 5)  # advantages [-1.5, 0, 1.5] * 2, mean 0, unbiased
    assert norm.tolist() == pytest.approx([-1.5 / (sd + EPS), 0, 1.5 / (sd + EPS)] * 2)


def test_combine_rewards_sum_then_normalize():
    r = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, np.nan]])
    # weights (1, 0.5): sums [1, 0.5, 1.5, 0] (nansum), groups of 2: [1, 0.5] and [1.5, 0]
    # group 1: mean 0.75, sd sqrt(0.125/1); group 2: mean 0.75, sd sqrt(1.125)
    adv = combine_rewards(r, [1.0, 0.5], group_size=2)
    s1, s2 = math.sqrt(0.125), math.sqrt(1.125)
    assert adv.tolist() == pytest.approx([0.25 / (s1 + EPS), -0.25 / (s1 + EPS), 0.75 / (s2 + EPS), -0.75 / (s2 + EPS)])
    all_nan = combine_rewards(np.array([[np.nan], [1.0]]), group_size=2)
    assert all_nan[0] == 0.0


def test_combine_rewards_normalize_then_sum():
    r = np.array([[1.0, 10.0], [0.0, 30.0]])
    # per function within the group: f1 [1, 0] -> (+-0.5) / (sqrt(0.5) + eps); f2 [10, 30] -> (-+10) / (sqrt(200) + eps)
    z1 = 0.5 / (math.sqrt(0.5) + EPS)
    z2 = 10 / (math.sqrt(200) + EPS)
    total = np.array([z1 - z2, -z1 + z2])
    expected = (total - total.mean()) / (total.std(ddof=1) + EPS)
    got = combine_rewards(r, group_size=2, aggregation="normalize_then_sum")
    assert got.tolist() == pytest.approx(expected.tolist())


def test_sum_and_min_form_credit():
    r = [0.9, 0.2, 0.8, 0.5]
    # sum form, gamma 1: suffix sums [2.4, 1.5, 1.3, 0.5]; gamma 0.5: 0.5 -> 0.8 + 0.25 -> ...
    assert sum_form_returns(r).tolist() == pytest.approx([2.4, 1.5, 1.3, 0.5])
    assert sum_form_returns([1, 2, 3], gamma=0.5).tolist() == pytest.approx([1 + 0.5 * 3.5, 2 + 0.5 * 3, 3])
    # min form: suffix minima [0.2, 0.2, 0.5, 0.5]
    assert min_form_returns(r).tolist() == [0.2, 0.2, 0.5, 0.5]
    # Padding with easy high-reward steps raises the sum-form value but not the min-form one.
    padded = r + [0.95, 0.95, 0.95]
    assert sum_form_returns(padded)[0] > sum_form_returns(r)[0]
    assert min_form_returns(padded)[0] == min_form_returns(r)[0]


def test_softmin_rewards_sum_to_a_smooth_minimum():
    r = [0.9, 0.2, 0.8]
    assert softmin_rewards(r, temperature=1e-3).sum() == pytest.approx(0.2, abs=1e-6)
    assert softmin_rewards(r, temperature=1e6).sum() == pytest.approx(np.mean(r), abs=1e-6)
    # T = 1: weights softmax([-0.9, -0.2, -0.8])
    w = np.exp([-0.9, -0.2, -0.8])
    w /= w.sum()
    assert softmin_rewards(r, 1.0).tolist() == pytest.approx((np.array(r) * w).tolist())


def test_gated_return_and_dense_placement():
    assert gated_return(1.0, [0.1, 0.2], threshold=0.5) == pytest.approx(1.3)
    assert gated_return(0.4, [0.1, 0.2], threshold=0.5) == 0.4
    dense = dense_token_rewards([2, 5], [0.3, -0.1], num_tokens=7, outcome=1.0)
    assert dense.tolist() == pytest.approx([0, 0, 0.3, 0, 0, -0.1, 1.0])
    with pytest.raises(ValueError, match="outside"):
        dense_token_rewards([9], [1.0], num_tokens=4)

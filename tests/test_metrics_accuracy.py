"""Accuracy metrics against hand-computed cases; the arithmetic is written next to each assertion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.evaluate import metrics as m

NAN = float("nan")


def test_pairwise_strict_and_half_credit_with_ties_and_failures():
    chosen = [3.0, 1.0, 2.0, 5.0, NAN]
    rejected = [1.0, 1.0, 4.0, 2.0, 0.0]
    # per pair: win, tie, loss, win, failed (NaN) -> strict credit [1, 0, 0, 1], half [1, .5, 0, 1]
    acc = m.pairwise_accuracy(chosen, rejected)
    assert acc["strict"].value == pytest.approx(2 / 4)
    assert acc["half"].value == pytest.approx(2.5 / 4)
    for a in acc.values():
        assert (a.n, a.scored, a.failed, a.ties) == (5, 4, 1, 1)


def test_constant_scorer_gets_zero_strict_and_half_credit():
    acc = m.pairwise_accuracy([1.0] * 6, [1.0] * 6)
    # every pair is a tie: strict counts it wrong (0/6), half-credit gives 0.5 each (3/6)
    assert acc["strict"].value == 0.0 and acc["half"].value == 0.5 and acc["strict"].ties == 6


def test_nan_is_a_failure_never_a_tie_or_a_loss():
    credit = m.pairwise_credit(np.array([NAN, 1.0]), np.array([NAN, 0.0]))
    # NaN == NaN is False and NaN > x is False: a naive comparison would call the first pair a loss
    assert math.isnan(credit[0]) and credit[1] == 1.0
    acc = m.pairwise_accuracy([NAN, NAN], [0.0, NAN])
    assert acc["strict"].failed == 2 and acc["strict"].ties == 0 and math.isnan(acc["strict"].value)


def test_bootstrap_ci_hand_cases():
    assert m.bootstrap_ci(np.ones(5)) == (1.0, 1.0)  # every resample of all-ones has mean 1
    assert m.bootstrap_ci(np.array([0.7])) == (0.7, 0.7)  # one item: no spread to resample
    assert all(math.isnan(x) for x in m.bootstrap_ci(np.array([])))
    # two items {0, 1}: a resample mean is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4, so the 2.5% and
    # 97.5% quantiles over 4000 resamples are 0 and 1
    assert m.bootstrap_ci(np.array([0.0, 1.0]), resamples=4000) == (0.0, 1.0)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    values = np.linspace(0.0, 1.0, 50) ** 2  # continuous, so different seeds give different quantiles
    a, b = m.bootstrap_ci(values, seed=7), m.bootstrap_ci(values, seed=7)
    assert a == b
    assert a[0] < values.mean() < a[1]
    assert m.bootstrap_ci(values, seed=8) != a


def test_stratified_bootstrap_weights_group_means():
    # group means 1.0 (weight 3) and 0.0 (weight 1): (1*3 + 0*1) / 4 = 0.75; constant groups -> CI is a point
    value, low, high = m.stratified_bootstrap([np.ones(4), np.zeros(2)], [3, 1])
    assert (value, low, high) == (0.75, 0.75, 0.75)
    # NaNs (failed items) are dropped inside a group; an all-NaN group is skipped, not scored 0
    value, _, _ = m.stratified_bootstrap([np.array([1.0, NAN]), np.array([NAN])])
    assert value == 1.0


def test_best_of_n_rewardbench2_tie_rule():
    scores = np.array([
        [5.0, 1.0, 2.0, 3.0],  # chosen (index 0) is the unique max -> 1
        [5.0, 5.0, 1.0, 2.0],  # chosen ties the max with 1 other -> 1/2
        [5.0, 5.0, 5.0, 5.0],  # constant scorer: 4-way tie -> 1/4 (RB2 chance level)
        [1.0, 5.0, 2.0, 3.0],  # chosen is not the max -> 0
        [NAN, 5.0, 2.0, 3.0],  # a failed completion fails the group -> NaN (counted, not 0)
    ])
    credit = m.rewardbench2_credit(scores)
    np.testing.assert_array_equal(credit[:4], [1.0, 0.5, 0.25, 0.0])
    assert math.isnan(credit[4])
    acc = m.accuracy_from_credit(credit)
    assert acc.value == pytest.approx((1 + 0.5 + 0.25 + 0) / 4) and acc.failed == 1


def test_best_of_n_with_several_correct_candidates():
    # top set {0, 1} (both 3.0); only index 1 is correct -> expected correctness of a uniform pick = 1/2
    credit = m.best_of_n_credit(np.array([[3.0, 3.0, 1.0, 0.0]]), np.array([[False, True, True, False]]))
    assert credit[0] == 0.5


def test_best_of_n_curve_exact_expectation():
    # pool of 3 with scores 1, 2, 3 and only the lowest-scored candidate correct.
    # N=1: a random single candidate is correct 1/3 of the time; proxy = mean(1, 2, 3) = 2
    # N=2: subsets {0,1},{0,2},{1,2} pick 1, 2, 2 -> gold 0; proxy = (2 + 3 + 3) / 3 = 8/3
    # N=3: picks index 2 -> gold 0, proxy 3
    curve = m.best_of_n_curve(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0.0, 0.0]]))
    assert [r["n"] for r in curve] == [1, 2, 3]
    assert [r["gold"] for r in curve] == pytest.approx([1 / 3, 0.0, 0.0])
    assert [r["proxy"] for r in curve] == pytest.approx([2.0, 8 / 3, 3.0])
    assert curve[1]["kl_bon"] == pytest.approx(math.log(2) - 1 / 2)


def test_rm_bench_matrix_and_difficulty():
    chosen = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    rejected = np.array([[2.0, 2.0, 2.0], [1.0, -1.0, 1.0]])
    # prompt 1: only chosen_2 (=3) beats the rejected (all 2): rows [0,0,0], [0,0,0], [1,1,1]
    # prompt 2: every chosen (0) beats only rejected_1 (-1): rows [0,1,0] x 3
    # M = mean: [[0, .5, 0], [0, .5, 0], [.5, 1, .5]]
    matrix = m.rm_bench_matrix(chosen, rejected)
    np.testing.assert_allclose(matrix, [[0, 0.5, 0], [0, 0.5, 0], [0.5, 1, 0.5]])
    d = m.rm_bench_difficulty(matrix)
    # hard = above the diagonal (.5 + 0 + 0)/3; normal = diagonal (0 + .5 + .5)/3; easy = below (0 + .5 + 1)/3
    assert d["hard"] == pytest.approx(1 / 6)
    assert d["normal"] == pytest.approx(1 / 3)
    assert d["easy"] == pytest.approx(1 / 2)
    assert d["average"] == pytest.approx(1 / 3)
    # per-prompt credit = cells won / 9 = 3/9 each; its mean equals the matrix mean (3/9)
    np.testing.assert_allclose(m.rm_bench_item_credit(chosen, rejected), [1 / 3, 1 / 3])


def test_rm_bench_failed_prompt_is_excluded_and_marked():
    chosen = np.array([[1.0, 1.0, 1.0], [NAN, 1.0, 1.0]])
    rejected = np.zeros((2, 3))
    np.testing.assert_allclose(m.rm_bench_matrix(chosen, rejected), np.ones((3, 3)))  # prompt 2 excluded
    credit = m.rm_bench_item_credit(chosen, rejected)
    assert credit[0] == 1.0 and math.isnan(credit[1])


def test_paired_bootstrap_hand_cases():
    same = m.paired_bootstrap(np.array([1.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]))
    assert same["diff"] == 0.0 and same["p_value"] == 1.0 and (same["ci_low"], same["ci_high"]) == (0.0, 0.0)
    better = m.paired_bootstrap(np.ones(4), np.zeros(4))
    # every resampled difference is 1: CI [1, 1]; no resample reaches 0 -> p = 0
    assert better["diff"] == 1.0 and better["p_value"] == 0.0 and better["ci_low"] == 1.0
    # d = [1, 0]: a resampled mean is 0 with probability 1/4, so p = 2 * 1/4 = 0.5 (up to resampling noise)
    half = m.paired_bootstrap(np.array([1.0, 0.0]), np.array([0.0, 0.0]), resamples=4000)
    assert half["p_value"] == pytest.approx(0.5, abs=0.05)
    dropped = m.paired_bootstrap(np.array([1.0, NAN, 0.0]), np.array([0.0, 1.0, NAN]))
    assert (dropped["n"], dropped["dropped"], dropped["diff"]) == (1, 2, 1.0)
    with pytest.raises(ValueError, match="shape"):
        m.paired_bootstrap(np.ones(2), np.ones(3))

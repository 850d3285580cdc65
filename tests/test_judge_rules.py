"""Position, aggregation and tournament rules on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from rewardlab.rewards.judge import rules


def test_judgebench_vote_sum():
    vote = lambda a, b: rules.combine_orders("both_vote_sum", a, b).p  # noqa: E731
    assert vote(0.9, 0.1) == 1.0  # a wins shown first (+1) and shown second (+1)
    assert vote(0.9, 0.5) == 1.0  # one right + one tie = right
    assert vote(0.9, 0.9) == 0.5  # the first slot wins both times: +1 - 1 = 0, not right
    assert vote(0.2, 0.8) == 0.0
    assert vote(math.nan, 0.1) == 1.0  # a failed order counts 0, as JudgeBench counts a null decision
    assert math.isnan(vote(math.nan, math.nan))


def test_llmbar_mean_and_agreement():
    c = rules.combine_orders("both_mean", 0.8, 0.4)
    assert c.p == pytest.approx((0.8 + 0.6) / 2) and c.agree is True
    biased = rules.combine_orders("both_mean", 0.9, 0.9)
    assert biased.p == pytest.approx(0.5) and biased.agree is False
    assert math.isnan(rules.combine_orders("both_mean", 0.8, math.nan).p)


def test_agree_or_skip():
    assert rules.combine_orders("both_agree_or_skip", 0.7, 0.2) == rules.Combined(1.0, True)
    assert rules.combine_orders("both_agree_or_skip", 0.3, 0.6) == rules.Combined(0.0, True)
    assert rules.combine_orders("both_agree_or_skip", 0.7, 0.7) == rules.Combined(0.5, False, skipped=True)


def test_net_win_rate():
    outcomes = {(0, 1): rules.Combined(1.0, True), (0, 2): rules.Combined(0.5, False, skipped=True),
                (1, 2): rules.Combined(0.2, True)}
    # 0 beats 1; 2 beats 1; 0 vs 2 skipped: (wins - losses) / (N - 1)
    assert rules.net_win_rates(3, outcomes) == [0.5, -1.0, 0.5]
    assert rules.net_win_rates(1, {}) == [0.0]


def test_vote_and_mean_over_k_samples():
    values = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    assert rules.aggregate(values, ["A", "A", "B"], "vote") == [1.0, 0.0]
    assert rules.aggregate(values, ["A", "A", "B"], "mean") == pytest.approx([2 / 3, 1 / 3])
    assert rules.aggregate(values[1:], ["A", "B"], "vote") == [0.5, 0.5]  # a tie between labels
    assert rules.aggregate([[0.2], [0.4]], [None, None], "vote") == pytest.approx([0.3])


def test_failure_policy_names():
    assert str(rules.FailurePolicy.parse("resample:3")) == "resample:3"
    assert rules.FailurePolicy.parse("tie").kind == "tie"
    for bad in ("resample", "resample:0", "resample:99", "zero", "nan:1"):
        with pytest.raises(ValueError, match="failure policy"):
            rules.FailurePolicy.parse(bad)


def test_orders_are_seeded_by_content_and_balanced():
    swaps = [rules.single_order_swaps(0, f"q{i}", "a", "b") for i in range(2000)]
    assert swaps == [rules.single_order_swaps(0, f"q{i}", "a", "b") for i in range(2000)]
    assert 0.45 < sum(swaps) / len(swaps) < 0.55
    slots = [rules.four_way_slots(0, f"q{i}", ["w", "x", "y", "z"]) for i in range(2000)]
    assert all(sorted(s) == [0, 1, 2, 3] for s in slots)
    where = [s.index(0) for s in slots]  # candidate 0 lands in each slot about a quarter of the time
    assert all(0.2 < where.count(k) / len(where) < 0.3 for k in range(4))
    assert all(s[j] == j for s in slots for j in range(4) if j not in (0, s.index(0)))  # RewardBench 2's swap

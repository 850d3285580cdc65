"""Calibration, length/position bias, reward statistics and RewardBench aggregation, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab.evaluate import diagnostics as d
from rewardlab.evaluate import rewardbench as rb


def test_ece_and_brier_by_hand():
    # margins 0 and ln 3 -> p = sigmoid(0) = 0.5 and sigmoid(ln 3) = 3/4.
    # Mirrored: probs [0.5, 0.75, 0.5, 0.25], outcomes [1, 1, 0, 0]. With 2 bins: bin 0 = [0, .5) holds 0.25
    # (conf .25, acc 0, gap .25); bin 1 holds 0.5, 0.75, 0.5 (conf 1.75/3, acc 2/3, gap 1/12).
    # ECE = 1/4 * 1/4 + 3/4 * 1/12 = 0.125; Brier = (.25 + .0625 + .25 + .0625) / 4 = 0.15625
    cal = d.calibration(np.array([0.0, math.log(3)]), np.array([0.0, 0.0]), bins=2)
    assert cal["ece"] == pytest.approx(0.125)
    assert cal["brier"] == pytest.approx(0.15625)
    assert [b["count"] for b in cal["reliability"]] == [1, 3]
    assert cal["reliability"][1]["confidence"] == pytest.approx(1.75 / 3)
    assert cal["reliability"][1]["accuracy"] == pytest.approx(2 / 3)


def test_calibration_edges_and_empty_bins():
    out = d.calibration_from_probs(np.array([1.0, 0.0]), np.array([1.0, 0.0]), bins=4)
    # p = 1.0 falls in the last bin, p = 0 in the first; both are perfectly calibrated -> ECE 0, Brier 0
    assert out["ece"] == 0.0 and out["brier"] == 0.0
    assert [b["count"] for b in out["reliability"]] == [1, 0, 0, 1]
    assert out["reliability"][1]["accuracy"] is None  # an empty bin has no value, not 0
    # NaN scores are dropped before calibrating
    assert d.calibration(np.array([np.nan, 0.0]), np.array([0.0, 0.0]))["n"] == 2  # one pair, mirrored


def test_sigmoid_is_stable_at_extremes():
    np.testing.assert_allclose(d.sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0.0, 0.5, 1.0])


def test_rank_and_spearman_by_hand():
    np.testing.assert_array_equal(d.rankdata(np.array([10, 20, 20, 30])), [1, 2.5, 2.5, 4])
    # rank differences [0, 1, 1, 0]: rho = 1 - 6 * 2 / (4 * (16 - 1)) = 0.8
    assert d.spearman(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 4])) == pytest.approx(0.8)
    assert math.isnan(d.spearman(np.ones(3), np.arange(3)))


def test_length_bias_by_hand():
    chosen, rejected = np.array([2.0, 1.0, 3.0, 1.0]), np.array([1.0, 2.0, 1.0, 1.0])
    lc, lr = np.array([10, 10, 5, 7]), np.array([5, 5, 9, 7])
    # pair 0: chosen longer, wins; pair 1: longer, loses; pair 2: shorter, wins; pair 3: same length, tie (wrong)
    out = d.length_bias(chosen, rejected, lc, lr)
    assert out["chosen_longer"] == {"n": 2, "accuracy": 0.5}
    assert out["chosen_shorter"] == {"n": 1, "accuracy": 1.0}
    assert out["same_length"] == {"n": 1, "accuracy": 0.0}
    assert out["gap"] == -0.5 and out["share_chosen_longer"] == 0.5


def test_position_bias_by_hand():
    p_chosen_first = np.array([0.9, 0.6, 0.3, 0.7])   # P(first slot wins), chosen in slot 1
    p_chosen_second = np.array([0.2, 0.8, 0.6, 0.5])  # P(first slot wins), rejected in slot 1
    # pair 0: chosen wins both orders (agree); pair 1: first slot wins both times (disagree);
    # pair 2: rejected wins both orders (agree); pair 3: chosen wins, then a tie (disagree)
    out = d.position_bias(p_chosen_first, p_chosen_second)
    assert out["agreement"] == 0.5
    assert out["first_slot_win_rate"] == 5 / 8  # first slot wins in [T, T, F, T] and [F, T, T, F]
    assert out["accuracy_first"] == 0.75 and out["accuracy_second"] == 0.25 and out["accuracy_both"] == 0.25
    # order-averaged P(chosen) = (p1 + 1 - p2) / 2 = .85, .4, .35, .6 -> 2 of 4 above 0.5
    assert out["accuracy_mean_prob"] == 0.5


def test_reward_stats_by_hand():
    out = d.reward_stats(np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 3.0]))
    assert out["n"] == 3 and out["chosen"]["mean"] == 2.0
    assert out["chosen"]["std"] == pytest.approx(math.sqrt(2 / 3))  # deviations -1, 0, 1 -> var 2/3
    assert out["margin"]["mean"] == 1.0 and out["margin"]["quantiles"]["p50"] == 1.0  # margins 1, 2, 0
    # a best-of-N group: 1 correct (5) and 3 incorrect (1, 2, NaN); margins of the 2 scored comparisons
    out = d.reward_stats(np.array([5.0]), np.array([1.0, 2.0, np.nan]), margin=np.array([4.0, 3.0, np.nan]))
    assert (out["chosen"]["n"], out["rejected"]["n"], out["n"]) == (1, 2, 2)
    assert out["rejected"]["mean"] == 1.5 and out["margin"]["mean"] == 3.5
    assert sum(out["histogram"]["chosen"]) == 1 and sum(out["histogram"]["rejected"]) == 2


def test_rewardbench_v1_sections_by_hand():
    acc = {"alpacaeval-easy": 0.9, "alpacaeval-hard": 0.5, "mt-bench-hard": 0.4, "llmbar-natural": 0.8}
    sections = rb.section_scores(acc)
    # Chat = (0.9*100 + 0.5*95) / (100 + 95) = 137.5 / 195; Chat Hard = (0.4*37 + 0.8*100) / 137 = 94.8 / 137
    assert sections["Chat"]["score"] == pytest.approx(137.5 / 195)
    assert sections["Chat Hard"]["score"] == pytest.approx(94.8 / 137)
    assert "alpacaeval-length" in sections["Chat"]["missing"]
    assert "Safety" not in sections  # absent, not scored 0 as reward-bench does
    # overall: weights 2 and 2 over the two present sections -> their plain mean
    overall = rb.overall_score({k: v["score"] for k, v in sections.items()})
    assert overall == pytest.approx((137.5 / 195 + 94.8 / 137) / 2)
    # the same overall as one weighted mean of subsets: weights 2*100/195, 2*95/195, 2*37/137, 2*100/137
    w = rb.subset_weights(list(acc))
    assert w["alpacaeval-easy"] == pytest.approx(200 / 195) and w["mt-bench-hard"] == pytest.approx(74 / 137)
    assert sum(w[k] * acc[k] for k in acc) / sum(w.values()) == pytest.approx(overall)
    # Prior Sets weighs 1 against 2 for a section: (2 * 0.6 + 1 * 0.9) / 3 = 0.7
    assert rb.overall_score({"Chat": 0.6, "Prior Sets": 0.9}) == pytest.approx(0.7)


def test_ties_composite_by_hand():
    groups = [
        rb.TiesGroup("ref", "1", (5.0,), (3.0, 1.0)),          # accurate, m_ref = 5 - 3 = 2
        rb.TiesGroup("tied", "1", (5.0, 4.5), (3.0, 2.0)),     # accurate, m = 4.5 - 3 = 1.5, d = 0.5
        rb.TiesGroup("ref", "2", (1.0,), (2.0,)),              # wrong, m_ref = -1
        rb.TiesGroup("tied", "2", (3.0, 1.0), (2.0,)),         # wrong, m = 1 - 2 = -1, d = 2
    ]
    out = rb.ties_score(groups)
    assert out["accuracy_ref"] == 0.5 and out["accuracy_tied"] == 0.5
    # preferred: 1.5 > 0.5 yes, -1 > 2 no -> 0.5; hard: min(2, 1.5) > 0.5 yes, min(-1, -1) > 2 no -> 0.5
    assert out["correctness_preferred"] == 0.5 and out["correctness_preferred_hard"] == 0.5
    # margin term: mean(tanh(1.5/0.5 - 1), tanh(-1/2 - 1)) = mean(tanh 2, tanh -1.5)
    margin = (math.tanh(2.0) + math.tanh(-1.5)) / 2
    assert out["correctness_margin"] == pytest.approx(margin)
    assert out["score"] == pytest.approx(0.3 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * margin)


def test_ties_composite_empty_terms_are_zero_and_reported():
    out = rb.ties_score([rb.TiesGroup("ref", "1", (2.0,), (1.0,))])  # no tied row: only acc_ref counts
    assert out["score"] == pytest.approx(0.3 * 1.0)
    assert out["empty_terms"] == ["correctness_preferred", "correctness_margin"]


def test_rewardbench_v1_prior_sets_drop_nan_subsets_like_the_sections():
    # shp failed entirely (NaN): Prior Sets = mean(0.8, 0.6), not NaN, and shp is listed as missing
    acc = {"anthropic_helpful": 0.8, "shp": math.nan, "summarize": 0.6, "alpacaeval-easy": math.nan}
    sections = rb.section_scores(acc)
    assert sections["Prior Sets"]["score"] == pytest.approx(0.7)
    assert sections["Prior Sets"]["missing"] == ["anthropic_hhh", "shp"]
    assert "Chat" not in sections
    acc["shp"] = acc["anthropic_helpful"] = math.nan
    acc["summarize"] = math.nan
    assert "Prior Sets" not in rb.section_scores(acc)


def test_rewardbench_v1_interval_is_centred_on_the_score_when_a_subset_fails(tmp_path):
    import json

    from rewardlab.evaluate.analysis import Settings
    from rewardlab.evaluate.runner import EvalConfig, run
    from rewardlab.types import Score

    class Length:
        name = "test:length"

        def score(self, samples):
            return [Score.failure("no") if "FAIL" in s.response else Score(float(len(s.response)))
                    for s in samples]

    rows = [("alpacaeval-easy", "long answer", "short"), ("alpacaeval-easy", "ab", "abc"),
            ("alpacaeval-hard", "FAIL", "x"), ("mt-bench-hard", "zzzz", "z"), ("shp", "yy", "y"),
            ("shp", "FAIL", "y"), ("summarize", "q", "qq")]
    path = tmp_path / "rb1.jsonl"
    path.write_text("".join(json.dumps({"prompt": "p", "chosen": c, "rejected": r, "subset": s}) + "\n"
                            for s, c, r in rows))
    results = run(EvalConfig(reward="test:length", benches=[str(path)], out=tmp_path / "out", report=False,
                             progress=False, settings=Settings(resamples=0)), reward=Length())
    primary = results["benchmarks"]["rb1.jsonl"]["metrics"]["primary"]
    # Chat = alpacaeval-easy only (hard failed): 0.5; Chat Hard 1.0; Prior Sets = mean(shp 1.0, summarize 0.0)
    assert primary["value"] == pytest.approx((2 * 0.5 + 2 * 1.0 + 1 * 0.5) / 5)
    assert primary["ci_low"] == pytest.approx(primary["value"]) == pytest.approx(primary["ci_high"])

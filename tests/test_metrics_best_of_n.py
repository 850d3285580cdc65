"""The exact best-of-N estimator: equal to enumerating every subset (ties included), hand-checked weights,
failed groups, per-N CIs, and a best-of-1024 file through ``rewardlab eval`` (enumeration would need
C(1024, 4) = 4.5e10 subsets for N = 4 alone)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardlab.evaluate import metrics as m
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score


def enumerate_best_of_n(scores: np.ndarray, gold: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The definition, written out: average over all C(M, n) subsets of (mean gold of the subset's
    top-scored candidates, the subset's max score), per group."""
    gold_sum, proxy_sum, subsets = np.zeros(len(scores)), np.zeros(len(scores)), 0
    for subset in itertools.combinations(range(scores.shape[1]), n):
        s, g = scores[:, subset], gold[:, subset]
        top = s == s.max(axis=1, keepdims=True)
        gold_sum += (top * g).sum(axis=1) / top.sum(axis=1)
        proxy_sum += s.max(axis=1)
        subsets += 1
    return gold_sum / subsets, proxy_sum / subsets


pools = st.integers(1, 7).flatmap(lambda size: st.tuples(
    st.lists(st.lists(st.integers(-2, 2), min_size=size, max_size=size), min_size=1, max_size=4),  # many ties
    st.lists(st.lists(st.floats(0, 1), min_size=size, max_size=size), min_size=4, max_size=4),
))


@settings(max_examples=200, deadline=None)
@given(pools)
def test_exact_estimator_equals_enumeration_with_ties(pool):
    score_rows, gold_rows = pool
    scores = np.array(score_rows, dtype=np.float64)
    gold = np.array(gold_rows[:len(score_rows)], dtype=np.float64)
    size = scores.shape[1]
    ns = list(range(1, size + 1))
    gold_e, proxy_e = m.best_of_n_expectations(scores, gold, ns)
    for j, n in enumerate(ns):
        want_gold, want_proxy = enumerate_best_of_n(scores, gold, n)
        np.testing.assert_allclose(gold_e[:, j], want_gold, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(proxy_e[:, j], want_proxy, rtol=1e-9, atol=1e-12)
    curve = m.best_of_n_curve(scores, gold, ns)
    assert [r["gold"] for r in curve] == pytest.approx(gold_e.mean(axis=0).tolist())


def test_weights_are_the_binomial_ratio_and_sum_to_one():
    # P(rank r is the best of an n-subset of m) = C(r, n-1) / C(m, n); m = 6, n = 3: C(m, n) = 20
    w = m.best_of_n_weights(6, 3)
    assert w.tolist() == pytest.approx([0, 0, 1 / 20, 3 / 20, 6 / 20, 10 / 20])
    for size, n in [(1, 1), (32, 1), (32, 7), (1024, 512), (1024, 1024)]:
        w = m.best_of_n_weights(size, n)
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
        assert w[size - 1] == pytest.approx(n / size)
        r = min(size - 1, n + 5)
        assert w[r] == pytest.approx(math.comb(r, n - 1) / math.comb(size, n), rel=1e-10)
    with pytest.raises(ValueError, match="1 <= n <= pool size"):
        m.best_of_n_weights(4, 5)


def test_tied_top_shares_its_gold_by_hand():
    # scores 1, 3, 3 with gold 0, 1, 0. N=2: subsets {0,1} -> 1, {0,2} -> 0, {1,2} -> tie, mean 0.5:
    # (1 + 0 + 0.5) / 3 = 0.5. N=3: tie of {1, 2} -> 0.5.
    gold_e, proxy_e = m.best_of_n_expectations(np.array([[1.0, 3.0, 3.0]]), np.array([[0.0, 1.0, 0.0]]), [1, 2, 3])
    assert gold_e[0].tolist() == pytest.approx([1 / 3, 0.5, 0.5])
    assert proxy_e[0].tolist() == pytest.approx([7 / 3, 3.0, 3.0])


def test_failed_groups_are_excluded_and_infinite_scores_fail():
    scores = np.array([[1.0, 2.0], [np.nan, 1.0], [np.inf, 0.0], [0.0, -np.inf]])
    gold = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    gold_e, _ = m.best_of_n_expectations(scores, gold, [1, 2])
    assert gold_e[0].tolist() == [0.5, 1.0] and np.isnan(gold_e[1:]).all()
    curve = m.best_of_n_curve(scores, gold)
    assert [(r["n"], r["gold"]) for r in curve] == [(1, 0.5), (2, 1.0)]


def test_curve_confidence_interval_brackets_the_mean():
    rng = np.random.default_rng(0)
    scores, gold = rng.normal(size=(200, 16)), rng.random((200, 16))
    curve = m.best_of_n_curve(scores, gold, ci=True)
    assert [r["n"] for r in curve] == [1, 2, 4, 8, 16]
    gold_e, _ = m.best_of_n_expectations(scores, gold, [1, 2, 4, 8, 16])
    for j, row in enumerate(curve):
        assert row["gold_ci_low"] < row["gold"] < row["gold_ci_high"]
        assert (row["gold_ci_low"], row["gold_ci_high"]) == m.bootstrap_ci(gold_e[:, j])
    assert "gold_ci_low" not in m.best_of_n_curve(scores, gold)[0]


class NumberReward:
    """A real reward: the response is a number and the reward is that number (no model needed)."""

    name = "test:number"

    def score(self, samples):
        return [Score(float(s.response)) for s in samples]


@pytest.mark.timeout(120)
def test_best_of_1024_file_evaluates(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(8):
        values = rng.integers(0, 300, size=1024)  # ties on purpose
        rows.append({"id": str(i), "prompt": "p", "responses": [str(v) for v in values],
                     "correct": (values % 7 == 0).tolist()})
    path = tmp_path / "bon1024.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    results = run(EvalConfig(reward="test:number", benches=[str(path)], out=tmp_path / "out", report=False,
                             progress=False), reward=NumberReward())
    curve = results["benchmarks"]["bon1024.jsonl"]["metrics"]["curve"]
    assert [r["n"] for r in curve] == [2**k for k in range(11)]
    scores = np.array([[float(x) for x in r["responses"]] for r in rows])
    correct = np.array([r["correct"] for r in rows], dtype=np.float64)
    assert curve[0]["gold"] == pytest.approx(correct.mean())  # N = 1 is a random pick
    top = scores == scores.max(axis=1, keepdims=True)
    assert curve[-1]["gold"] == pytest.approx(np.mean((top * correct).sum(axis=1) / top.sum(axis=1)))


def test_large_bootstrap_by_level_counts_matches_item_resampling(monkeypatch):
    # 0 / 0.5 / 1 credits: resampling level counts (multinomial) has the same distribution as resampling items
    rng = np.random.default_rng(3)
    credit = rng.choice([0.0, 0.5, 1.0], p=[0.3, 0.1, 0.6], size=20_000)
    by_items = m.bootstrap_ci(credit, resamples=2000)
    monkeypatch.setattr(m, "LARGE_BOOTSTRAP", 0)
    by_counts = m.bootstrap_ci(credit, resamples=2000)
    assert by_counts != by_items  # the other path ran
    half_width = (by_items[1] - by_items[0]) / 2
    assert by_counts == pytest.approx(by_items, abs=0.1 * half_width)

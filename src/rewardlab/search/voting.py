"""Voting over candidates' final answers: self-consistency (one vote each) and weighted majority voting
(each candidate's reward added to the tally of its answer).

Two jobs: `vote_pick` decides one group (the chosen answer of ``rewardlab search bon``), and `vote_curve`
estimates the accuracy of voting among N random candidates for each N. Voting is not the argmax of a
per-candidate score, so the order-statistics estimator of best-of-N does not apply; the curve averages
``subsets`` random N-subsets per group. The subsets are the first N of one random permutation per draw
(the first N of a uniform permutation are a uniform N-subset), so every N reuses the same draws and the
cost is O(subsets * sum(ns)) per group. Ties between answers are not broken by a coin: each draw credits
the share of correct answers among the tied winners, its exact expectation under uniform tie-breaking,
so N = M (one subset) is exact. Candidates without an answer abstain; a draw where nobody answers
scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.search.answers import answer_ids

WEIGHTINGS = ("raw", "sigmoid", "exp")


def vote_weights(values: Sequence[float], weighting: str = "raw") -> np.ndarray:
    """Votes from reward values: ``raw`` (must be >= 0: probabilities, PRM step products), ``sigmoid`` (for
    logits), ``exp`` (exp(v - max): a softmax over the group). A failed (NaN) value votes 0."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if weighting == "raw":
        if (v[finite] < 0).any():
            raise ValueError(f"weighted voting with raw rewards needs values >= 0, found {float(v[finite].min()):.4g};"
                             " use --weighting sigmoid (logits) or exp")
        out = v
    elif weighting == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-np.where(finite, v, 0.0)))
    elif weighting == "exp":
        top = v[finite].max() if finite.any() else 0.0
        out = np.exp(np.where(finite, v, -np.inf) - top)
    else:
        raise ValueError(f"unknown weighting {weighting!r}; expected one of {', '.join(WEIGHTINGS)}")
    return np.where(finite, out, 0.0)


@dataclass
class VoteResult:
    """One group's vote: the winning answer (None when nobody answered), the candidate that stands for it
    (the winner's highest-weighted candidate), every answer's tally, and how many abstained."""

    answer: str | None
    index: int | None
    tallies: dict[str, float]
    abstained: int


def vote_pick(answers: Sequence[str | None], weights: Sequence[float] | None = None) -> VoteResult:
    """The answer with the largest summed weight (one vote each without ``weights``).

    Ties go to the answer more candidates stated, then to the one stated first: deterministic, so a run
    is reproducible.
    """
    w = [1.0] * len(answers) if weights is None else [float(x) for x in weights]
    tallies: dict[str, float] = {}
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, (a, x) in enumerate(zip(answers, w)):
        if a is None:
            continue
        tallies[a] = tallies.get(a, 0.0) + (x if math.isfinite(x) else 0.0)
        counts[a] = counts.get(a, 0) + 1
        first.setdefault(a, i)
    abstained = sum(a is None for a in answers)
    if not tallies:
        return VoteResult(None, None, {}, abstained)
    winner = max(tallies, key=lambda a: (tallies[a], counts[a], -first[a]))
    index = max((i for i, a in enumerate(answers) if a == winner), key=lambda i: (w[i], -i))
    return VoteResult(winner, index, tallies, abstained)


def vote_expectations(ids: np.ndarray, correct: np.ndarray, ns: Sequence[int], weights: np.ndarray | None = None,
                      subsets: int = 256, seed: int = 0) -> np.ndarray:
    """Per-group expected correctness of voting among N random candidates, shape (groups, len(ns)).

    ``ids`` (groups, M) from `answer_ids` (-1 abstains); ``correct`` (groups, M), the gold label of each
    candidate (equal answers have equal labels); ``weights`` (groups, M) the votes (None: one each).
    """
    ids, correct = np.asarray(ids), np.asarray(correct, dtype=bool)
    if ids.shape != correct.shape or ids.ndim != 2:
        raise ValueError(f"ids {ids.shape} and correct {correct.shape} must be the same 2-D shape")
    w = np.ones(ids.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != ids.shape:
        raise ValueError(f"weights {w.shape} must have the shape of ids {ids.shape}")
    groups, m = ids.shape
    for n in ns:
        if not 1 <= n <= m:
            raise ValueError(f"N={n} is outside 1..{m}")
    rng = np.random.default_rng(seed)
    out = np.zeros((groups, len(ns)))
    for g in range(groups):
        k = int(ids[g].max()) + 1 if m else 0
        if k == 0:
            continue  # nobody answered: every vote is wrong
        answered = ids[g] >= 0
        answer_correct = np.zeros(k, dtype=bool)
        answer_correct[ids[g][answered]] = correct[g][answered]
        perms = np.argsort(rng.random((subsets, m)), axis=1)
        for j, n in enumerate(ns):
            draws = 1 if n == m else subsets
            sel = perms[:draws, :n]
            sid, sw = ids[g][sel], w[g][sel]
            mask = sid >= 0
            rows = np.broadcast_to(np.arange(draws)[:, None], sid.shape)
            flat = (rows * k + np.where(mask, sid, 0))[mask]
            votes = np.bincount(flat, weights=sw[mask], minlength=draws * k).reshape(draws, k)
            present = np.bincount(flat, minlength=draws * k).reshape(draws, k) > 0
            best = np.where(present, votes, -np.inf).max(axis=1, keepdims=True)
            tied = present & (votes == best)
            n_tied = tied.sum(axis=1)
            credit = (tied & answer_correct[None, :]).sum(axis=1) / np.maximum(n_tied, 1)
            out[g, j] = float(np.where(n_tied > 0, credit, 0.0).mean())
    return out


def vote_curve(ids: np.ndarray, correct: np.ndarray, ns: Sequence[int], weights: np.ndarray | None = None,
               subsets: int = 256, seed: int = 0, ci: bool = False) -> list[dict[str, Any]]:
    """`vote_expectations` averaged over groups, per N (``ci=True``: a bootstrap CI over groups)."""
    from rewardlab.evaluate.metrics import bootstrap_ci

    per_group = vote_expectations(ids, correct, ns, weights, subsets, seed)
    m = np.asarray(ids).shape[1]
    rows = []
    for j, n in enumerate(ns):
        row: dict[str, Any] = {"n": int(n), "gold": float(per_group[:, j].mean()) if len(per_group) else math.nan,
                               "subsets": 1 if n == m else subsets}
        if ci:
            row["gold_ci_low"], row["gold_ci_high"] = bootstrap_ci(per_group[:, j])
        rows.append(row)
    return rows


def majority_vote_curve(ids: np.ndarray, correct: np.ndarray, ns: Sequence[int], subsets: int = 256,
                        seed: int = 0) -> list[dict[str, float]]:
    """Self-consistency: expected accuracy of an unweighted majority vote over N random candidates."""
    return vote_curve(ids, correct, ns, None, subsets, seed)


__all__ = ["WEIGHTINGS", "VoteResult", "answer_ids", "majority_vote_curve", "vote_curve", "vote_expectations",
           "vote_pick", "vote_weights"]

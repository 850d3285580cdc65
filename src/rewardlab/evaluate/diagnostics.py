"""Diagnostics beyond accuracy: calibration, length and position bias, reward statistics (RESEARCH 4.6, 4.7).

Pure numpy over score arrays; NaN and ±inf entries (failures) are dropped pairwise and counted by the callers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DEFAULT_BINS = 10


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, 1.0 / (1.0 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1.0 + np.exp(-np.abs(x))))


def calibration(chosen: np.ndarray, rejected: np.ndarray, bins: int = DEFAULT_BINS,
                temperature: float = 1.0) -> dict[str, Any]:
    """Calibration of the Bradley-Terry probability p = sigmoid((r_c - r_r) / T) that chosen wins.

    Every pair gives (p, outcome 1) *and* its mirror (1 - p, outcome 0), so both halves of the reliability
    diagram are populated (RESEARCH 4.6). With B equal-width bins over [0, 1] (p = 1 falls in the last bin):
    ECE = sum_b (n_b / N) |acc_b - conf_b|, Brier = mean (p - o)^2. Returns the per-bin data of the
    reliability diagram (bin edges, count, mean confidence, observed frequency; empty bins are null).
    """
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    keep = np.isfinite(c) & np.isfinite(r)  # NaN and ±inf are failures (inf - inf has no probability)
    p = sigmoid((c[keep] - r[keep]) / temperature)
    probs = np.concatenate([p, 1.0 - p])
    outcomes = np.concatenate([np.ones_like(p), np.zeros_like(p)])
    return calibration_from_probs(probs, outcomes, bins)


def calibration_from_probs(probs: np.ndarray, outcomes: np.ndarray, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """ECE, Brier and reliability bins for probabilities ``probs`` of binary ``outcomes`` (same shape)."""
    p, o = np.asarray(probs, dtype=np.float64), np.asarray(outcomes, dtype=np.float64)
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if np.any(~((p >= 0) & (p <= 1))):  # NaN included: a probability outside [0, 1] has no bin
        raise ValueError("probabilities must lie in [0, 1] (drop failed items before calibrating)")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    conf_sum = np.bincount(index, weights=p, minlength=bins)
    acc_sum = np.bincount(index, weights=o, minlength=bins)
    n = p.size
    with np.errstate(invalid="ignore", divide="ignore"):
        conf, acc = conf_sum / counts, acc_sum / counts
    ece = float(np.sum(counts[counts > 0] / n * np.abs(acc - conf)[counts > 0])) if n else math.nan
    brier = float(np.mean((p - o) ** 2)) if n else math.nan
    return {
        "ece": ece, "brier": brier, "bins": bins, "n": int(n),
        "reliability": [
            {"low": float(edges[b]), "high": float(edges[b + 1]), "count": int(counts[b]),
             "confidence": None if counts[b] == 0 else float(conf[b]),
             "accuracy": None if counts[b] == 0 else float(acc[b])}
            for b in range(bins)
        ],
    }


def rankdata(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (scipy.stats.rankdata 'average')."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], x.size]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (Pearson on average ranks); NaN pairs dropped; NaN if either is constant."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = rankdata(a[keep]), rankdata(b[keep])
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def length_bias(chosen: np.ndarray, rejected: np.ndarray, chosen_len: np.ndarray,
                rejected_len: np.ndarray) -> dict[str, Any]:
    """Does the reward prefer the longer response? (RESEARCH 4.7)

    Strict accuracy on pairs where the chosen side is longer, shorter, and equal in length, the gap
    ``longer - shorter`` (near 0 for an unbiased reward), and Spearman rho between reward and length over
    every scored response (both sides), plus rho between the margin and the length difference.
    """
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    lc, lr = np.asarray(chosen_len, dtype=np.float64), np.asarray(rejected_len, dtype=np.float64)
    keep = ~(np.isnan(c) | np.isnan(r))
    c, r, lc, lr = c[keep], r[keep], lc[keep], lr[keep]
    win = c > r
    groups = {"chosen_longer": lc > lr, "chosen_shorter": lc < lr, "same_length": lc == lr}
    out: dict[str, Any] = {}
    for name, mask in groups.items():
        out[name] = {"n": int(mask.sum()), "accuracy": float(win[mask].mean()) if mask.any() else None}
    longer, shorter = out["chosen_longer"]["accuracy"], out["chosen_shorter"]["accuracy"]
    out["gap"] = None if longer is None or shorter is None else longer - shorter
    out["spearman_reward_length"] = _none_if_nan(spearman(np.r_[c, r], np.r_[lc, lr]))
    out["spearman_margin_length_diff"] = _none_if_nan(spearman(c - r, lc - lr))
    out["share_chosen_longer"] = float((lc > lr).mean()) if lc.size else None
    return out


def position_bias(p_chosen_first: np.ndarray, p_chosen_second: np.ndarray) -> dict[str, Any]:
    """Order effects of a pairwise scorer judged in both orders (RESEARCH 4.7).

    ``p_chosen_first[i]`` = P(first slot wins) when chosen is shown first; ``p_chosen_second[i]`` = P(first
    slot wins) when rejected is shown first. A verdict is ``first`` (p > 0.5), ``second`` (p < 0.5) or a tie.
    - agreement: both orders pick the same *response* (a consistent judge);
    - first_slot_win_rate: how often the first slot wins over both orders (ideal 0.5 on this balanced set);
    - accuracy_first / accuracy_second: accuracy in each order; accuracy_both: chosen must win in both;
    - accuracy_mean_prob: chosen wins on the order-averaged probability (p1 + 1 - p2) / 2 > 0.5.
    """
    p1, p2 = np.asarray(p_chosen_first, dtype=np.float64), np.asarray(p_chosen_second, dtype=np.float64)
    keep = ~(np.isnan(p1) | np.isnan(p2))
    p1, p2 = p1[keep], p2[keep]
    if p1.size == 0:
        return {"n": 0, "failed": int((~keep).sum())}
    chosen_wins_1, chosen_wins_2 = p1 > 0.5, p2 < 0.5
    rejected_wins_1, rejected_wins_2 = p1 < 0.5, p2 > 0.5
    agree = (chosen_wins_1 & chosen_wins_2) | (rejected_wins_1 & rejected_wins_2)
    firsts = np.r_[p1 > 0.5, p2 > 0.5]
    return {
        "n": int(p1.size), "failed": int((~keep).sum()),
        "agreement": float(agree.mean()),
        "first_slot_win_rate": float(firsts.mean()),
        "accuracy_first": float(chosen_wins_1.mean()), "accuracy_second": float(chosen_wins_2.mean()),
        "accuracy_both": float((chosen_wins_1 & chosen_wins_2).mean()),
        "accuracy_mean_prob": float(((p1 + 1.0 - p2) / 2.0 > 0.5).mean()),
    }


def reward_stats(chosen: np.ndarray, rejected: np.ndarray, margin: np.ndarray | None = None,
                 bins: int = 30) -> dict[str, Any]:
    """Mean/std per side, the margin distribution (quantiles) and shared-edge histograms for the report.

    ``chosen`` and ``rejected`` are the rewards of the better / worse responses, each response once (their
    lengths may differ, e.g. 1 correct and 3 incorrect answers per group); ``margin`` holds r_c - r_r per
    gold comparison (default: ``chosen - rejected`` element-wise, for pairs). NaN and ±inf are dropped.
    """
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf: dropped below with the other non-finite margins
        margin = c - r if margin is None else np.asarray(margin, dtype=np.float64)
    c, r, margin = c[np.isfinite(c)], r[np.isfinite(r)], margin[np.isfinite(margin)]
    if c.size == 0 or r.size == 0:
        return {"n": 0}
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    lo, hi = float(min(c.min(), r.min())), float(max(c.max(), r.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)
    return {
        "n": int(margin.size),
        "chosen": {"n": int(c.size), "mean": float(c.mean()), "std": float(c.std()), "min": float(c.min()),
                   "max": float(c.max())},
        "rejected": {"n": int(r.size), "mean": float(r.mean()), "std": float(r.std()), "min": float(r.min()),
                     "max": float(r.max())},
        "margin": {"mean": float(margin.mean()) if margin.size else None,
                   "std": float(margin.std()) if margin.size else None,
                   "quantiles": {f"p{int(x * 100)}": float(v) for x, v in zip(q, np.quantile(margin, q))}
                   if margin.size else {}},
        "histogram": {"edges": edges.tolist(), "chosen": np.histogram(c, edges)[0].tolist(),
                      "rejected": np.histogram(r, edges)[0].tolist()},
    }


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else x

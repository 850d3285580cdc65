"""Accuracy metrics for reward models: pure numpy functions over score arrays (RESEARCH 4.1, 4.3, 4.4, 4.10).

Every function takes plain arrays and returns numbers or small dataclasses, so the evaluation runner,
``rewardlab compare`` and the tests all call the same code. A NaN score is a *failure*: it is counted and
excluded, never compared (NaN > x is False, which would silently score it as a loss, and NaN == NaN is
False, which would hide a tie). Bootstrap resampling is seeded, so the same inputs give the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
LARGE_BOOTSTRAP = 50_000_000  # resamples x items above which `bootstrap_ci` resamples level counts


@dataclass(frozen=True)
class Accuracy:
    """Accuracy over items with a percentile-bootstrap 95% CI.

    ``n`` items were requested, ``failed`` could not be scored (NaN / error), ``scored = n - failed`` are
    the denominator of ``value``. ``ties`` counts items whose credit came from a tie (pairwise only).
    """

    value: float
    ci_low: float
    ci_high: float
    n: int
    scored: int
    failed: int
    ties: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pairwise_credit(chosen: np.ndarray, rejected: np.ndarray, tie_credit: float = 0.0) -> np.ndarray:
    """Per-pair credit, shape ``(n,)``: 1 if chosen > rejected, ``tie_credit`` on a tie, 0 if lower, NaN if
    either side is NaN (a failure). ``tie_credit=0`` is the strict rule of TRL's RewardTrainer and
    reward-bench's classifier path; 0.5 is the half-credit rule of reward-bench's generative path."""
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    if c.shape != r.shape:
        raise ValueError(f"chosen has shape {c.shape}, rejected {r.shape}")
    credit = np.where(c > r, 1.0, np.where(c == r, tie_credit, 0.0))
    credit[np.isnan(c) | np.isnan(r)] = np.nan
    return credit


def bootstrap_ci(values: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (NaNs must be removed by the caller).

    Items are resampled with replacement ``resamples`` times from ``np.random.default_rng(seed)``.
    Fewer than 2 items give ``(mean, mean)``; no items give ``(nan, nan)``. Above ``LARGE_BOOTSTRAP`` drawn
    items (e.g. the ~10^6 within-group comparisons of a best-of-1024 file) values with few distinct levels
    (credits 0 / 0.5 / 1) are resampled as multinomial counts per level: the same bootstrap distribution of
    the mean, in O(resamples x levels) instead of O(resamples x items).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1 or resamples <= 0:
        return float(v.mean()), float(v.mean())
    rng = np.random.default_rng(seed)
    levels, counts = np.unique(v, return_counts=True) if v.size * resamples > LARGE_BOOTSTRAP else (None, None)
    if levels is not None and levels.size <= 64:
        means = rng.multinomial(v.size, counts / v.size, size=resamples) @ levels / v.size
    else:
        means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def accuracy_from_credit(credit: np.ndarray, ties: int = 0, resamples: int = DEFAULT_RESAMPLES,
                         seed: int = DEFAULT_SEED) -> Accuracy:
    """Mean credit over the non-NaN items, with the failures (NaN items) counted, and its bootstrap CI."""
    credit = np.asarray(credit, dtype=np.float64)
    ok = credit[~np.isnan(credit)]
    value = float(ok.mean()) if ok.size else math.nan
    low, high = bootstrap_ci(ok, resamples, seed)
    return Accuracy(value, low, high, n=int(credit.size), scored=int(ok.size),
                    failed=int(credit.size - ok.size), ties=ties)


def stratified_bootstrap(groups: list[np.ndarray], weights: list[float] | None = None,
                         resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                         level: float = 0.95) -> tuple[float, float, float]:
    """A weighted mean of group means (macro average, RewardBench section score, RM-Bench overall) and its
    bootstrap CI, resampling items *within* each group so every group keeps its size and weight.

    ``groups`` hold per-item credits (NaNs are dropped; an empty group is skipped); ``weights`` default to
    equal. Returns ``(value, ci_low, ci_high)``.
    """
    weights = [1.0] * len(groups) if weights is None else list(weights)
    clean = [(np.asarray(g, dtype=np.float64), w) for g, w in zip(groups, weights)]
    clean = [(g[~np.isnan(g)], w) for g, w in clean]
    clean = [(g, w) for g, w in clean if g.size]
    if not clean:
        return math.nan, math.nan, math.nan
    total = sum(w for _, w in clean)
    value = sum(g.mean() * w for g, w in clean) / total
    rng = np.random.default_rng(seed)
    boot = np.zeros(resamples)
    for g, w in clean:
        boot += g[rng.integers(0, g.size, size=(resamples, g.size))].mean(axis=1) * w
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot / total, [alpha, 1.0 - alpha]) if resamples > 0 else (value, value)
    return float(value), float(low), float(high)


def pairwise_accuracy(chosen: np.ndarray, rejected: np.ndarray, resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED) -> dict[str, Accuracy]:
    """Strict (a tie is wrong) and half-credit (a tie is 0.5) accuracy, both with the tie count.

    A constant scorer gets strict 0 and half 0.5: the pair of numbers exposes a degenerate reward.
    """
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    ties = int(np.sum((c == r) & ~np.isnan(c) & ~np.isnan(r)))
    return {
        "strict": accuracy_from_credit(pairwise_credit(c, r, 0.0), ties, resamples, seed),
        "half": accuracy_from_credit(pairwise_credit(c, r, 0.5), ties, resamples, seed),
    }


def best_of_n_credit(scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Expected gold correctness of the reward's pick, per group, with ties broken uniformly at random.

    ``scores`` and ``correct`` have shape ``(groups, n)`` (NaN-padded rows for ragged groups are not
    allowed: a NaN anywhere in a row marks the whole group as failed, credit NaN). Credit is
    ``#correct among the top-scored / #top-scored``. With one correct answer at index 0 (RewardBench 2)
    this is exactly its rule: 1/k when the chosen ties the maximum with k completions, else 0.
    """
    s, g = np.asarray(scores, dtype=np.float64), np.asarray(correct, dtype=bool)
    if s.shape != g.shape or s.ndim != 2:
        raise ValueError(f"scores {s.shape} and correct {g.shape} must be the same 2-D shape")
    failed = np.isnan(s).any(axis=1)
    top = s == np.nanmax(np.where(np.isnan(s), -np.inf, s), axis=1, keepdims=True)
    credit = (top & g).sum(axis=1) / np.maximum(top.sum(axis=1), 1)
    return np.where(failed, np.nan, credit.astype(np.float64))


def rewardbench2_credit(scores: np.ndarray) -> np.ndarray:
    """RewardBench 2 best-of-4 credit for rows whose index 0 is the chosen completion (utils.reroll_and_score
    _dataset): ``1 / #(scores == max)`` if ``scores[0]`` equals the row maximum, else 0; NaN rows fail."""
    s = np.asarray(scores, dtype=np.float64)
    correct = np.zeros(s.shape, dtype=bool)
    correct[:, 0] = True
    return best_of_n_credit(s, correct)


def best_of_n_weights(m: int, n: int) -> np.ndarray:
    """P(the candidate of ascending rank r is the best of a uniform random n-subset of m), shape ``(m,)``.

    The best of a subset has rank r exactly when it is in the subset with n - 1 of the r candidates below
    it: ``C(r, n - 1) / C(m, n)`` (RESEARCH 4.10's order-statistics estimator). Computed as a product of
    ratios from the top rank (``w[m-1] = n / m``, ``w[r-1] = w[r] (r - n + 1) / r``), every factor <= 1, so
    no binomial overflows for m in the thousands. The weights sum to 1 (hockey-stick identity).
    """
    if not 1 <= n <= m:
        raise ValueError(f"best-of-{n} needs 1 <= n <= pool size {m}")
    w = np.zeros(m)
    r = np.arange(m - 1, n - 1, -1, dtype=np.float64)  # r = m-1 .. n: gives w[r-1]
    w[m - 1] = n / m
    w[n - 1:m - 1] = (n / m) * np.cumprod((r - n + 1) / r)[::-1]
    return w


def best_of_n_expectations(scores: np.ndarray, gold: np.ndarray, ns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per-group exact expected gold and proxy of best-of-N, each of shape ``(groups, len(ns))``.

    The expectation is over the uniform random size-N subsets (without replacement) of each group's pool of
    M, with ties in score broken uniformly at random: equal to enumerating all C(M, N) subsets and, in each,
    averaging the gold of the candidates tied at the subset's maximum. Uniform tie-breaking inside a subset is
    the same as one uniformly random order of each tie class, fixed before the subset is drawn, so a tie
    class occupying ranks lo..hi contributes its *mean* gold times ``sum(best_of_n_weights[lo..hi])``.
    Cost: one sort per group and one ``(M, len(ns))`` product, O(M log M + M len(ns)) per group.

    ``scores`` and ``gold`` have shape ``(groups, M)``; a group with a non-finite score (NaN failure, or
    ±inf) gets NaN in every column. The rows are what a per-N bootstrap CI resamples (`best_of_n_curve`).
    """
    s, g = np.asarray(scores, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    if s.shape != g.shape or s.ndim != 2:
        raise ValueError(f"scores {s.shape} and gold {g.shape} must be the same 2-D shape")
    groups, m = s.shape
    failed = ~np.isfinite(s).all(axis=1)
    s = np.where(failed[:, None], 0.0, s)
    order = np.argsort(s, axis=1, kind="stable")
    ss, gg = np.take_along_axis(s, order, axis=1), np.take_along_axis(g, order, axis=1)
    starts = np.ones(s.shape, dtype=bool)
    starts[:, 1:] = ss[:, 1:] != ss[:, :-1]
    tie_class = (np.cumsum(starts, axis=1) - 1 + (np.arange(groups) * m)[:, None]).ravel()
    sums = np.bincount(tie_class, weights=gg.ravel(), minlength=groups * m)
    counts = np.bincount(tie_class, minlength=groups * m)
    class_gold = (sums / np.maximum(counts, 1))[tie_class].reshape(s.shape)
    weights = np.stack([best_of_n_weights(m, n) for n in ns], axis=1) if ns else np.zeros((m, 0))
    gold_e, proxy_e = class_gold @ weights, ss @ weights
    gold_e[failed], proxy_e[failed] = np.nan, np.nan
    return gold_e, proxy_e


def default_best_of_n_sizes(m: int) -> list[int]:
    """N = 1, 2, 4, ... up to the pool size M, and M itself when it is not a power of two."""
    return [n for n in (2**k for k in range(m.bit_length())) if n <= m] + ([m] if m and m & (m - 1) else [])


def best_of_n_curve(scores: np.ndarray, gold: np.ndarray, ns: list[int] | None = None, ci: bool = False,
                    resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> list[dict[str, float]]:
    """Exact expected gold and proxy reward of best-of-N for N = 1, 2, 4, ... up to the pool size M.

    For each N the expectation is over all C(M, N) subsets of each group's pool (RESEARCH 4.10: the exact
    order-statistics estimate, no sampling noise; `best_of_n_expectations`); ties inside a subset are broken
    uniformly. ``gold`` is the gold value of each candidate (0/1 correctness or a gold score), shape
    ``(groups, M)``. Failed groups (any NaN or infinite score) are excluded. Over-optimisation shows as
    ``proxy`` rising while ``gold`` falls. ``ci=True`` adds ``gold_ci_low`` / ``gold_ci_high``: a percentile
    bootstrap over groups of the per-group expectations.
    """
    s, g = np.asarray(scores, dtype=np.float64), np.asarray(gold, dtype=np.float64)
    if s.size == 0:  # no groups at all: an empty curve
        s = g = np.zeros((0, s.shape[1] if s.ndim == 2 else 0))
    m = s.shape[1]
    ns = default_best_of_n_sizes(m) if ns is None else list(ns)
    gold_e, proxy_e = best_of_n_expectations(s, g, ns)
    keep = np.isfinite(s).all(axis=1)
    gold_e, proxy_e = gold_e[keep], proxy_e[keep]
    rows = []
    for j, n in enumerate(ns):
        row = {"n": n, "gold": float(gold_e[:, j].mean()) if len(gold_e) else math.nan,
               "proxy": float(proxy_e[:, j].mean()) if len(proxy_e) else math.nan,
               "kl_bon": math.log(n) - (n - 1) / n}
        if ci:
            row["gold_ci_low"], row["gold_ci_high"] = bootstrap_ci(gold_e[:, j], resamples, seed)
        rows.append(row)
    return rows


def rm_bench_matrix(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """RM-Bench style matrix, shape ``(k, k)``: M[i, j] = share of prompts with chosen_i > rejected_j (strict).

    ``chosen``/``rejected`` have shape ``(prompts, k)`` with styles ordered concise, detailed plain,
    detailed markdown (THU-KEG/RM-Bench ``scripts/utils.py``). Prompts with any NaN are excluded (the
    caller counts them as failures).
    """
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    keep = ~(np.isnan(c).any(axis=1) | np.isnan(r).any(axis=1))
    c, r = c[keep], r[keep]
    if len(c) == 0:
        return np.full((c.shape[1], c.shape[1]), np.nan)
    return (c[:, :, None] > r[:, None, :]).mean(axis=0)


def rm_bench_difficulty(matrix: np.ndarray) -> dict[str, float]:
    """easy / normal / hard accuracy from the matrix: hard = mean of the cells above the diagonal (chosen
    less styled than rejected), normal = the diagonal, easy = below it; ``average`` = mean of the three."""
    m = np.asarray(matrix, dtype=np.float64)
    upper, lower = np.triu_indices_from(m, 1), np.tril_indices_from(m, -1)
    out = {"easy": float(m[lower].mean()), "normal": float(np.diag(m).mean()), "hard": float(m[upper].mean())}
    out["average"] = (out["easy"] + out["normal"] + out["hard"]) / 3.0
    return out


def rm_bench_item_credit(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Per-prompt share of the k x k cells won (NaN for a failed prompt): its mean over prompts is the
    matrix mean, i.e. the domain ``average``, so it is what the bootstrap resamples."""
    c, r = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64)
    credit = (c[:, :, None] > r[:, None, :]).mean(axis=(1, 2))
    return np.where(np.isnan(c).any(axis=1) | np.isnan(r).any(axis=1), np.nan, credit)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                     level: float = 0.95) -> dict[str, float]:
    """Is run A better than run B on the same items? Paired percentile bootstrap of mean(a) - mean(b).

    ``a`` and ``b`` are per-item credits for the *same* items in the same order; items failed (NaN) in
    either run are dropped and counted in ``dropped``. The same resampled indices are used for both runs,
    which is what makes the test paired. ``p_value`` is two-sided: 2 x the share of resampled differences
    on the far side of 0 (capped at 1); with no variation at all it is 1 when the difference is 0, else 0.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired arrays differ in shape: {x.shape} vs {y.shape}")
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    out = {"n": int(x.size), "dropped": int((~keep).sum()), "a": math.nan, "b": math.nan, "diff": math.nan,
           "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    if x.size == 0:
        return out
    d = x - y
    out.update(a=float(x.mean()), b=float(y.mean()), diff=float(d.mean()))
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    if np.all(boot == 0):
        p = 1.0
    else:
        p = min(1.0, 2.0 * min(np.mean(boot <= 0), np.mean(boot >= 0)))
    out.update(ci_low=float(low), ci_high=float(high), p_value=float(p))
    return out


def wilson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / n``: a proportion's CI that stays
    honest at small n and at 0 or n successes (a percentile bootstrap of all-zero data collapses to [0, 0]).
    No trials give ``(nan, nan)``."""
    if n <= 0:
        return math.nan, math.nan
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)

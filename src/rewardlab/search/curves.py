"""Accuracy of every selection rule as the number of candidates N grows, from one file of pools.

For pools of M scored candidates per prompt, the curves answer "what would best-of-N have given, for each
N <= M" without sampling again:

- ``reward`` (best-of-N by the reward) and ``oracle`` (best-of-N by the gold labels: the share of
  prompts where N candidates hold at least one right answer) use the exact order-statistics estimator of
  `rewardlab.evaluate.metrics.best_of_n_curve`: an expectation over all C(M, N) subsets, no enumeration,
  O(M log M) per prompt, so a best-of-256 file takes well under a second;
- ``random`` (any one candidate) is exact: the mean gold label;
- ``majority vote`` (self-consistency) and ``weighted vote`` (rewards summed per answer) are Monte-Carlo
  averages over random subsets (`rewardlab.search.voting`): voting has no order-statistics form.

Every curve carries a 95% percentile bootstrap CI over prompts. The reward curve also carries the mean
proxy reward of the pick and the analytic KL of best-of-n from the policy, ``log n - (n-1)/n`` (Gao et al.,
*Scaling Laws for Reward Model Overoptimization*): proxy rising while gold stalls or falls is
over-optimisation (`overoptimisation_figure`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardlab.evaluate.metrics import best_of_n_curve, bootstrap_ci, default_best_of_n_sizes
from rewardlab.search.voting import vote_curve


def search_curves(scores: np.ndarray, gold: np.ndarray | None, ids: np.ndarray | None = None,
                  weights: np.ndarray | None = None, ns: list[int] | None = None, subsets: int = 256,
                  seed: int = 0) -> dict[str, Any]:
    """All curves for pools of shape (prompts, M): ``scores`` the reward (NaN = failed), ``gold`` the
    verifier's 0/1 label or a gold score (None: only the proxy curve), ``ids`` answer ids (-1 abstains)
    for the vote curves, ``weights`` the weighted-vote votes."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"curves need one pool of M candidates per prompt, all of one size; got shape {s.shape}")
    m = s.shape[1]
    ns = default_best_of_n_sizes(m) if ns is None else sorted(set(int(n) for n in ns))
    failed_groups = int((~np.isfinite(s).all(axis=1)).sum())
    out: dict[str, Any] = {"pool_size": m, "prompts": int(s.shape[0]), "ns": ns,
                           "prompts_excluded_for_failed_scores": failed_groups, "curves": {}}
    if gold is None:
        out["curves"]["reward"] = [{k: r[k] for k in ("n", "proxy", "kl_bon")} for r in best_of_n_curve(s, s, ns)]
        return out
    g = np.asarray(gold, dtype=np.float64)
    if g.shape != s.shape:
        raise ValueError(f"gold {g.shape} must have the shape of scores {s.shape}")
    curves = out["curves"]
    curves["reward"] = best_of_n_curve(s, g, ns, ci=True)
    curves["oracle"] = [{k: r[k] for k in ("n", "gold", "gold_ci_low", "gold_ci_high")}
                        for r in best_of_n_curve(g, g, ns, ci=True)]
    per_prompt = g.mean(axis=1)
    low, high = bootstrap_ci(per_prompt)
    mean = float(per_prompt.mean()) if len(per_prompt) else math.nan
    curves["random"] = [{"n": n, "gold": mean, "gold_ci_low": low, "gold_ci_high": high} for n in ns]
    if ids is not None:
        correct = g >= 0.5
        curves["majority vote"] = vote_curve(ids, correct, ns, None, subsets, seed, ci=True)
        if weights is not None:
            curves["weighted vote"] = vote_curve(ids, correct, ns, weights, subsets, seed, ci=True)
    return out


def overoptimisation_figure(reward_curve: list[dict[str, Any]]) -> str:
    """PNG (base64) of proxy reward and gold accuracy of best-of-n against KL = log n - (n-1)/n."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardlab.evaluate.figures import to_png

    kl = [r["kl_bon"] for r in reward_curve]
    fig, left = plt.subplots(figsize=(5.5, 3.6))
    left.plot(kl, [r["proxy"] for r in reward_curve], "o-", color="tab:orange", label="proxy reward (mean of pick)")
    left.set_xlabel("KL(best-of-n || policy) = log n - (n-1)/n  [nats]")
    left.set_ylabel("proxy reward", color="tab:orange")
    if all("gold" in r for r in reward_curve):
        right = left.twinx()
        right.plot(kl, [r["gold"] for r in reward_curve], "s-", color="tab:blue", label="gold accuracy")
        if all("gold_ci_low" in r for r in reward_curve):
            right.fill_between(kl, [r["gold_ci_low"] for r in reward_curve], [r["gold_ci_high"] for r in reward_curve],
                               color="tab:blue", alpha=0.15)
        right.set_ylabel("gold (verifier) accuracy", color="tab:blue")
    for r in reward_curve:
        left.annotate(f"n={r['n']}", (r["kl_bon"], r["proxy"]), fontsize=7, xytext=(2, 4), textcoords="offset points")
    left.set_title("Over-optimisation: proxy vs gold as best-of-n grows")
    fig.tight_layout()
    return to_png(fig)


def accuracy_figure(curves: dict[str, list[dict[str, Any]]]) -> str:
    """PNG (base64) of every rule's accuracy against N (log scale), with CI bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardlab.evaluate.figures import to_png

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, rows in curves.items():
        if not rows or "gold" not in rows[0]:
            continue
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["gold"] for r in rows], "o-", label=name, markersize=3)
        if "gold_ci_low" in rows[0]:
            ax.fill_between(ns, [r["gold_ci_low"] for r in rows], [r["gold_ci_high"] for r in rows], alpha=0.12)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N candidates")
    ax.set_ylabel("accuracy (gold)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)

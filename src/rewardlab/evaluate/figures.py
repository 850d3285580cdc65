"""Matplotlib figures for the report, each returned as a base64 PNG string (no files, no network).

Every function reads only a benchmark's metrics block from results.json, so a report can be rebuilt from
the JSON alone. The Agg backend is forced: the report renders on headless machines and in CI.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

CHOSEN, REJECTED, ACCENT, GREY = "#2b8cbe", "#e34a33", "#31a354", "#888888"


def to_png(fig: Any) -> str:
    """Render and close ``fig``; base64 of the PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def summary_bars(summary: dict[str, Any], title: str = "Primary metric per benchmark",
                 xlabel: str = "score (95% bootstrap CI)") -> str:
    """Each benchmark's primary metric with its 95% CI (or any named values with CIs: master keys' FPRs)."""
    names = list(summary)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(names)))
    values = [summary[n]["value"] or 0.0 for n in names]
    err = _errors(values, [summary[n].get("ci_low") for n in names], [summary[n].get("ci_high") for n in names])
    ax.barh(names, values, xerr=err, color=CHOSEN, capsize=3)
    for y, n in enumerate(names):
        ax.text(0.01, y, summary[n]["metric"], va="center", fontsize=7, color="white")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return to_png(fig)


def subset_bars(metrics: dict[str, Any], kind: str) -> str:
    """Per-subset accuracy with 95% CIs; chance / random-pick baselines marked."""
    subsets = metrics.get("subsets", {})
    names = list(subsets)
    acc = [_subset_accuracy(subsets[n], kind) for n in names]
    values = [a.get("value") or 0.0 for a in acc]
    err = _errors(values, [a.get("ci_low") for a in acc], [a.get("ci_high") for a in acc])
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.32 * max(len(names), 1)))
    ax.barh(names, values, xerr=err, color=CHOSEN, capsize=2)
    if kind == "pairwise":
        ax.axvline(0.5, color=GREY, linestyle="--", linewidth=1, label="chance")
    elif kind == "best-of-n":
        random = [subsets[n].get("random") for n in names]
        ax.scatter([r if r is not None else 0 for r in random], names, color=REJECTED, marker="|", s=200,
                   label="random pick", zorder=3)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("accuracy (95% CI)")
    ax.set_title("Accuracy per subset")
    if kind in ("pairwise", "best-of-n"):
        ax.legend(fontsize=7, loc="best", framealpha=0.9)
    return to_png(fig)


def _subset_accuracy(block: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "pairwise":
        return block["strict"]
    return block["accuracy"]


def histograms(stats: dict[str, Any], labels: tuple[str, str] = ("chosen", "rejected")) -> str:
    """Chosen and rejected reward histograms on shared bins."""
    fig, ax = plt.subplots(figsize=(5, 3))
    hist = stats.get("histogram")
    if hist:
        edges = hist["edges"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        ax.bar(edges[:-1], hist["chosen"], width=widths, align="edge", alpha=0.55, color=CHOSEN, label=labels[0])
        ax.bar(edges[:-1], hist["rejected"], width=widths, align="edge", alpha=0.55, color=REJECTED,
               label=labels[1])
        ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel("reward")
    ax.set_ylabel("responses")
    ax.set_title("Reward distribution")
    return to_png(fig)


def reliability(cal: dict[str, Any]) -> str:
    """Reliability diagram: observed frequency vs mean confidence per bin, with bin counts below."""
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(4.2, 4.6), sharex=True,
                                     gridspec_kw={"height_ratios": [3, 1]})
    bins = [b for b in cal.get("reliability", []) if b["count"]]
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1)
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color=CHOSEN)
    ax.set_ylabel("observed frequency")
    ece, brier = cal.get("ece"), cal.get("brier")
    ax.set_title(f"Reliability  ECE={_fmt(ece)}  Brier={_fmt(brier)}", fontsize=9)
    all_bins = cal.get("reliability", [])
    counts.bar([(b["low"] + b["high"]) / 2 for b in all_bins], [b["count"] for b in all_bins],
               width=1 / max(len(all_bins), 1) * 0.9, color=GREY)
    counts.set_xlabel("P(chosen wins) = sigmoid(r_c - r_r)")
    counts.set_ylabel("count")
    return to_png(fig)


def length_bias(lb: dict[str, Any]) -> str:
    """Accuracy when the chosen response is longer / shorter / the same length, with counts."""
    groups = ["chosen_longer", "chosen_shorter", "same_length"]
    fig, ax = plt.subplots(figsize=(4.6, 3))
    values = [lb.get(g, {}).get("accuracy") or 0.0 for g in groups]
    bars = ax.bar(["chosen longer", "chosen shorter", "same length"], values, color=[ACCENT, REJECTED, GREY])
    for bar, g in zip(bars, groups):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"n={lb.get(g, {}).get('n', 0)}",
                ha="center", fontsize=8)
    ax.axhline(0.5, color=GREY, linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    rho = lb.get("spearman_reward_length")
    ax.set_title(f"Length bias  gap={_fmt(lb.get('gap'))}  rho(reward,len)={_fmt(rho)}", fontsize=9)
    return to_png(fig)


def bon_curve(curve: list[dict[str, Any]]) -> str:
    """Best-of-N: expected gold correctness and proxy reward of the pick against N."""
    fig, ax = plt.subplots(figsize=(4.6, 3))
    ns = [row["n"] for row in curve]
    ax.plot(ns, [row["gold"] for row in curve], marker="o", color=ACCENT, label="gold (accuracy)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("N")
    ax.set_ylabel("gold")
    twin = ax.twinx()
    twin.plot(ns, [row["proxy"] for row in curve], marker="s", color=CHOSEN, linestyle=":", label="proxy reward")
    twin.set_ylabel("proxy reward")
    ax.set_title("Best-of-N curve")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="best", framealpha=0.9)
    return to_png(fig)


def rm_bench_matrices(domains: dict[str, Any]) -> str:
    """The 3x3 chosen-style x rejected-style accuracy matrix of each RM-Bench domain."""
    names = list(domains)
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(3.4 * max(len(names), 1), 3.2), squeeze=False)
    styles = ["concise", "detailed", "markdown"]
    for k, (ax, name) in enumerate(zip(axes[0], names)):
        matrix = domains[name]["matrix"]
        ax.imshow([[x if x is not None else 0 for x in row] for row in matrix], vmin=0, vmax=1, cmap="RdYlGn")
        for i, row in enumerate(matrix):
            for j, x in enumerate(row):
                ax.text(j, i, _fmt(x), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(3), styles, fontsize=7)
        ax.set_yticks(range(3), styles if k == 0 else [], fontsize=7)
        ax.set_xlabel("rejected style")
        if k == 0:
            ax.set_ylabel("chosen style")
        ax.set_title(f"{name}: hard = above diagonal", fontsize=8)
    fig.tight_layout()
    return to_png(fig)


def processbench_curve(pb: dict[str, Any]) -> str:
    """ProcessBench F1 against the threshold tau on the dev split and the held-out items, tau marked."""
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    curve = pb.get("curve", {})
    for key, label, color in (("dev_f1", "dev split (chooses tau)", CHOSEN), ("test_f1", "held-out", ACCENT)):
        if curve.get(key):
            ax.plot(curve["threshold"], [y if y is not None else float("nan") for y in curve[key]], label=label,
                    color=color)
    if pb.get("threshold") is not None:
        ax.axvline(pb["threshold"], color=GREY, linestyle="--", linewidth=1, label=f"tau = {pb['threshold']:.4g}")
    ax.set_ylim(0, 1)
    ax.set_xlabel("tau (first step scored below tau = predicted error)")
    ax.set_ylabel("F1")
    ax.set_title("ProcessBench F1 against threshold", fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)
    return to_png(fig)


def processbench_subsets(pb: dict[str, Any]) -> str:
    """Per subset: accuracy on erroneous items, on correct items, and their harmonic mean F1."""
    names = list(pb.get("subsets", {}))
    fig, ax = plt.subplots(figsize=(6, 0.9 + 0.45 * max(len(names), 1)))
    height = 0.27
    for k, (key, color) in enumerate((("error_acc", REJECTED), ("correct_acc", ACCENT), ("f1", CHOSEN))):
        values = [pb["subsets"][n].get(key) or 0.0 for n in names]
        ax.barh([y + (k - 1) * height for y in range(len(names))], values, height=height, color=color, label=key)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title("ProcessBench per subset (held-out items)", fontsize=9)
    ax.legend(fontsize=7, loc="best", framealpha=0.9)
    return to_png(fig)


def _errors(values: list[float], lows: list[Any], highs: list[Any]) -> list[list[float]]:
    low = [max(v - lo, 0.0) if lo is not None else 0.0 for v, lo in zip(values, lows)]
    high = [max(hi - v, 0.0) if hi is not None else 0.0 for v, hi in zip(values, highs)]
    return [low, high]


def _fmt(x: Any) -> str:
    return "n/a" if x is None else f"{x:.3f}"

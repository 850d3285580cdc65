"""The metrics stage: per-record score arrays of one benchmark -> its metrics block in results.json.

Input is a `Scored`: one float array per record (pair: [chosen, rejected]; group: candidates in order;
RM-Bench: 3 chosen then 3 rejected), NaN where the reward failed, plus gold flags, subsets and lengths.
Everything below calls the pure functions in `metrics`, `diagnostics` and `rewardbench`; this module only
decides which apply to which benchmark kind, and arranges their output.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.evaluate import diagnostics as diag
from rewardlab.evaluate import metrics as m
from rewardlab.evaluate import rewardbench as rb

RM_BENCH_DOMAINS = {"safety-refuse": "safety", "safety-response": "safety"}


@dataclass
class Scored:
    """Scores of one benchmark, aligned with its records (see the module docstring)."""

    kind: str
    values: list[np.ndarray]
    correct: list[np.ndarray]
    lengths: list[np.ndarray]
    subsets: list[str]
    ids: list[str]
    errors: list[str | None] = field(default_factory=list)
    position: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Settings:
    """Knobs that change numbers, recorded in results.json."""

    seed: int = m.DEFAULT_SEED
    resamples: int = m.DEFAULT_RESAMPLES
    bins: int = diag.DEFAULT_BINS


def item_credit(kind: str, values: list[np.ndarray], correct: list[np.ndarray]) -> np.ndarray:
    """Per-record credit for a benchmark kind (NaN = failed record); shared with `compare`."""
    if not values:
        return np.zeros(0)
    if kind == "pairwise":
        pairs = np.stack(values)
        return m.pairwise_credit(pairs[:, 0], pairs[:, 1])
    if kind == "rm-bench":
        groups = np.stack(values)
        return m.rm_bench_item_credit(groups[:, :3], groups[:, 3:])
    if kind == "best-of-n":
        return np.array([m.best_of_n_credit(v[None, :], c[None, :])[0] for v, c in zip(values, correct)])
    raise ValueError(f"unknown benchmark kind {kind!r}")


def comparisons(s: Scored) -> tuple[np.ndarray, ...]:
    """Every gold (better, worse) comparison inside each record, for the pairwise diagnostics: a pair is
    itself; RM-Bench gives its 9 style combinations; a best-of-N group every (correct, incorrect) pair.
    A failed record (any NaN) contributes nothing, as in every other metric.
    Returns chosen, rejected, chosen_len, rejected_len arrays."""
    columns: list[list[np.ndarray]] = [[], [], [], []]
    for v, c, n in zip(s.values, s.correct, s.lengths):
        if np.isnan(v).any():
            continue
        good, bad = np.flatnonzero(c), np.flatnonzero(~c)  # pairs in (good, bad) row-major order
        columns[0].append(np.repeat(v[good], bad.size))
        columns[1].append(np.tile(v[bad], good.size))
        columns[2].append(np.repeat(n[good], bad.size))
        columns[3].append(np.tile(n[bad], good.size))
    return tuple(np.concatenate(col).astype(np.float64) if col else np.zeros(0) for col in columns)


def _sides(s: Scored) -> tuple[np.ndarray, np.ndarray]:
    """Rewards of the gold-better and gold-worse responses, each response once (failed records dropped)."""
    ok = [(v, c) for v, c in zip(s.values, s.correct) if not np.isnan(v).any()]
    if not ok:
        return np.zeros(0), np.zeros(0)
    return np.concatenate([v[c] for v, c in ok]), np.concatenate([v[~c] for v, c in ok])


def analyse(s: Scored, settings: Settings) -> dict[str, Any]:
    """The metrics block for one benchmark: ``primary``, ``subsets`` and kind-specific extras, plus the
    diagnostics every kind gets (calibration, length bias, reward statistics over its comparisons)."""
    credit = item_credit(s.kind, s.values, s.correct)
    out = {"pairwise": _pairwise, "best-of-n": _best_of_n, "rm-bench": _rm_bench}[s.kind](s, credit, settings)
    c, r, lc, lr = comparisons(s)
    out["comparisons"] = {"n": int(c.size), **{k: v.to_dict() for k, v in
                                               m.pairwise_accuracy(c, r, settings.resamples, settings.seed).items()}}
    out["calibration"] = diag.calibration(c, r, settings.bins)
    out["length_bias"] = diag.length_bias(c, r, lc, lr)
    out["reward_stats"] = diag.reward_stats(*_sides(s), margin=c - r)
    if s.position is not None:
        out["position_bias"] = diag.position_bias(*s.position)
    out["failures"] = _failures(s, credit)
    return out


def _by_subset(s: Scored) -> dict[str, np.ndarray]:
    index: dict[str, list[int]] = defaultdict(list)
    for i, subset in enumerate(s.subsets):
        index[subset].append(i)
    return {k: np.array(v) for k, v in sorted(index.items())}


def _pairwise(s: Scored, credit: np.ndarray, st: Settings) -> dict[str, Any]:
    pairs = np.stack(s.values) if s.values else np.zeros((0, 2))
    subsets = {}
    for name, idx in _by_subset(s).items():
        acc = m.pairwise_accuracy(pairs[idx, 0], pairs[idx, 1], st.resamples, st.seed)
        subsets[name] = {k: v.to_dict() for k, v in acc.items()}
    overall = m.pairwise_accuracy(pairs[:, 0], pairs[:, 1], st.resamples, st.seed)
    out: dict[str, Any] = {
        "primary": {"name": "accuracy (strict)", **overall["strict"].to_dict()},
        "overall": {k: v.to_dict() for k, v in overall.items()},
        "subsets": subsets,
        "macro": _macro(credit, s, st),
    }
    names = list(subsets)
    if rb.is_rewardbench_v1(names):
        accuracy = {k: v["strict"]["value"] for k, v in subsets.items()}
        sections = rb.section_scores(accuracy)
        score = rb.overall_score({k: v["score"] for k, v in sections.items()})
        weights = rb.subset_weights([k for k, v in accuracy.items() if not math.isnan(v)])
        index = _by_subset(s)
        _, low, high = m.stratified_bootstrap([credit[index[k]] for k in weights], list(weights.values()),
                                              st.resamples, st.seed)
        out["rewardbench_v1"] = {"sections": sections, "score": score, "subset_weights": weights}
        out["primary"] = {"name": "RewardBench v1 score", "value": score, "ci_low": low, "ci_high": high,
                          "n": overall["strict"].n, "scored": overall["strict"].scored,
                          "failed": overall["strict"].failed}
    return out


def _macro(credit: np.ndarray, s: Scored, st: Settings) -> dict[str, float]:
    groups = [credit[idx] for idx in _by_subset(s).values()]
    value, low, high = m.stratified_bootstrap(groups, None, st.resamples, st.seed)
    return {"value": value, "ci_low": low, "ci_high": high, "subsets": len(groups)}


def _best_of_n(s: Scored, credit: np.ndarray, st: Settings) -> dict[str, Any]:
    subsets: dict[str, dict[str, Any]] = {}
    for name, idx in _by_subset(s).items():
        subsets[name] = {"accuracy": m.accuracy_from_credit(credit[idx], 0, st.resamples, st.seed).to_dict(),
                         **_baselines([s.correct[i] for i in idx], credit[idx])}
        if name.lower() == "ties":
            subsets[name]["ties"] = _ties(s, idx)
    overall = m.accuracy_from_credit(credit, 0, st.resamples, st.seed)
    out: dict[str, Any] = {
        "primary": {"name": "best-of-N accuracy", **overall.to_dict()},
        "overall": {"accuracy": overall.to_dict(), **_baselines(s.correct, credit)},
        "subsets": subsets,
        "macro": _macro(credit, s, st),
        "curve": _curve(s),
    }
    if _is_rewardbench2(s):
        per_subset = {k: (v["ties"]["score"] if "ties" in v else v["accuracy"]["value"]) for k, v in subsets.items()}
        valid = [v for v in per_subset.values() if not math.isnan(v)]
        score = float(np.mean(valid)) if valid else math.nan
        out["rewardbench2"] = {"subsets": per_subset, "score": score}
        out["primary"] = {"name": "RewardBench 2 score", "value": score, "n": overall.n, "scored": overall.scored,
                          "failed": overall.failed}
    return out


def _baselines(correct: list[np.ndarray], credit: np.ndarray) -> dict[str, Any]:
    """What a random pick (mean share correct) and an oracle (any correct) would get, on scored groups."""
    ok = [c for c, x in zip(correct, credit) if not math.isnan(x)]
    return {"random": float(np.mean([c.mean() for c in ok])) if ok else None,
            "oracle": float(np.mean([c.any() for c in ok])) if ok else None}


def _curve(s: Scored) -> list[dict[str, float]]:
    """Best-of-N curve over the groups of the most common size (the curve needs one pool size)."""
    sizes = [len(v) for v in s.values]
    if not sizes:
        return []
    size = max(set(sizes), key=sizes.count)
    pick = [i for i, n in enumerate(sizes) if n == size]
    return m.best_of_n_curve(np.stack([s.values[i] for i in pick]), np.stack([s.correct[i] for i in pick]))


def _ties(s: Scored, idx: np.ndarray) -> dict[str, Any]:
    groups, failed, unparsed = [], 0, 0
    for i in idx:
        kind, _, prompt_id = s.ids[i].partition(":")
        if kind not in ("ref", "tied") or not prompt_id:
            unparsed += 1
            continue
        if np.isnan(s.values[i]).any():
            failed += 1
            continue
        v, c = s.values[i], s.correct[i]
        groups.append(rb.TiesGroup(kind, prompt_id, tuple(v[c].tolist()), tuple(v[~c].tolist())))
    result = rb.ties_score(groups) if groups else {"score": math.nan}
    return {**result, "failed_groups": failed, "unparsed_ids": unparsed}


def _is_rewardbench2(s: Scored) -> bool:
    """RB2 layout: every non-Ties group has exactly one correct completion, at index 0."""
    rest = [c for c, sub in zip(s.correct, s.subsets) if sub.lower() != "ties"]
    return bool(rest) and all(c[0] and c.sum() == 1 for c in rest)


def _rm_bench(s: Scored, credit: np.ndarray, st: Settings) -> dict[str, Any]:
    groups = np.stack(s.values) if s.values else np.zeros((0, 6))
    subsets, domains = {}, defaultdict(list)
    for name, idx in _by_subset(s).items():
        subsets[name] = _rm_bench_block(groups[idx], credit[idx], st)
        domains[RM_BENCH_DOMAINS.get(name, name)].extend(idx.tolist())
    domain_blocks = {d: _rm_bench_block(groups[np.array(i)], credit[np.array(i)], st) for d, i in domains.items()}
    value, low, high = m.stratified_bootstrap([credit[np.array(i)] for i in domains.values()], None,
                                              st.resamples, st.seed)
    difficulty = {k: float(np.nanmean([b[k] for b in domain_blocks.values()])) for k in ("easy", "normal", "hard")}
    failed = int(np.isnan(credit).sum())
    return {
        "primary": {"name": "RM-Bench average", "value": value, "ci_low": low, "ci_high": high, "n": len(credit),
                    "scored": len(credit) - failed, "failed": failed},
        "difficulty": difficulty, "domains": domain_blocks, "subsets": subsets,
    }


def _rm_bench_block(groups: np.ndarray, credit: np.ndarray, st: Settings) -> dict[str, Any]:
    matrix = m.rm_bench_matrix(groups[:, :3], groups[:, 3:])
    acc = m.accuracy_from_credit(credit, 0, st.resamples, st.seed)
    return {**m.rm_bench_difficulty(matrix), "matrix": matrix.tolist(), "accuracy": acc.to_dict()}


def _failures(s: Scored, credit: np.ndarray) -> dict[str, Any]:
    """Failed records, counted, with the first few reasons (never silently scored)."""
    failed = [i for i, x in enumerate(credit) if math.isnan(x)]
    reasons: dict[str, int] = defaultdict(int)
    for i in failed:
        reasons[(s.errors[i] if s.errors and s.errors[i] else "NaN score")[:200]] += 1
    return {"records": len(credit), "failed": len(failed), "reasons": dict(reasons),
            "examples": [s.ids[i] for i in failed[:10]]}

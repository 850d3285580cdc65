"""ProcessBench (RESEARCH 4.5): does a PRM find the earliest wrong step of a solution?

Metric (QwenLM/ProcessBench ``code/run_eval.py``): e = accuracy on erroneous items (predicted first-error
index == label), c = accuracy on correct items (prediction == -1), F1 = 2ec/(e+c), per subset; the
average is the mean of the per-subset values. An item the reward could not score counts as a miss
(ProcessBench counts an unparseable critic output the same way) and is reported in ``failed``.

A PRM gives step scores, not an index: pred = min{t : p_t < tau}, or -1 if no step falls below tau.
ProcessBench ships no threshold rule (QwenLM/ProcessBench#3), so tau is chosen by maximising F1 on a dev
split (a fixed, hash-based share of the items; ProcessBench has no dev split of its own), frozen, and
reported with the F1-vs-threshold curve and the metrics on the held-out rest.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.evaluate.diagnostics import rankdata

SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")
StepScores = Sequence[float] | None
"""Per-step scores of one item, or None where the reward failed on it."""


def predict_first_error(step_scores: StepScores, threshold: float) -> int | None:
    """Index of the first step scored below ``threshold``, -1 if none; None for a failed item."""
    if step_scores is None or len(step_scores) == 0:
        return None
    below = np.flatnonzero(np.asarray(step_scores, dtype=np.float64) < threshold)
    return int(below[0]) if below.size else -1


def processbench_metrics(predictions: Sequence[int | None], labels: Sequence[int]) -> dict[str, float]:
    """error_acc, correct_acc, f1 and the counts; a None prediction is a miss in its category.

    A category with no items gives NaN accuracy (and NaN F1): never a silent zero.
    """
    labels_arr = np.asarray(labels, dtype=np.int64)
    preds = np.asarray([-2 if p is None else p for p in predictions], dtype=np.int64)  # -2 matches nothing
    if preds.shape != labels_arr.shape:
        raise ValueError(f"{len(preds)} predictions for {len(labels_arr)} labels")
    erroneous, correct = labels_arr != -1, labels_arr == -1
    e = float(np.mean(preds[erroneous] == labels_arr[erroneous])) if erroneous.any() else math.nan
    c = float(np.mean(preds[correct] == -1)) if correct.any() else math.nan
    return {"error_acc": e, "correct_acc": c, "f1": harmonic_f1(e, c), "n_error": int(erroneous.sum()),
            "n_correct": int(correct.sum()), "failed": int(sum(p is None for p in predictions))}


def harmonic_f1(error_acc: float, correct_acc: float) -> float:
    if math.isnan(error_acc) or math.isnan(correct_acc):
        return math.nan
    total = error_acc + correct_acc
    return 0.0 if total == 0 else 2 * error_acc * correct_acc / total


def f1_curve(step_scores: Sequence[StepScores], labels: Sequence[int], thresholds: Sequence[float]) -> np.ndarray:
    """F1 at each threshold, shape (len(thresholds),); vectorised over thresholds.

    Uses that pred(tau) = #{t : running_min_t >= tau} (or -1 when that is every step), because the running
    minimum of the step scores is non-increasing.
    """
    taus = np.asarray(thresholds, dtype=np.float64)
    labels_arr = np.asarray(labels)
    hits_e = np.zeros(len(taus))
    hits_c = np.zeros(len(taus))
    for scores, label in zip(step_scores, labels_arr):
        if scores is None or len(scores) == 0:
            continue  # a miss at every threshold
        running_min = np.minimum.accumulate(np.asarray(scores, dtype=np.float64))
        kept = np.searchsorted(-running_min, -taus, side="right")  # count of running_min >= tau
        pred = np.where(kept == len(running_min), -1, kept)
        if label == -1:
            hits_c += pred == -1
        else:
            hits_e += pred == label
    n_e, n_c = int(np.sum(labels_arr != -1)), int(np.sum(labels_arr == -1))
    if n_e == 0 or n_c == 0:
        return np.full(len(taus), math.nan)
    e, c = hits_e / n_e, hits_c / n_c
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(e + c > 0, 2 * e * c / (e + c), 0.0)


def candidate_thresholds(step_scores: Sequence[StepScores], limit: int = 4000) -> np.ndarray:
    """Every distinct step score plus one just above the largest: F1 only changes at these points."""
    values = [v for s in step_scores if s is not None for v in s if math.isfinite(v)]
    if not values:
        raise ValueError("no finite step scores to choose a threshold from")
    unique = np.unique(np.asarray(values, dtype=np.float64))
    if len(unique) > limit:
        unique = np.unique(np.quantile(unique, np.linspace(0, 1, limit)))
    return np.append(unique, np.nextafter(unique[-1], np.inf))


def choose_threshold(step_scores: Sequence[StepScores], labels: Sequence[int]) -> tuple[float, float]:
    """(tau, F1 at tau) maximising F1 on these items; the smallest such tau on ties."""
    taus = candidate_thresholds(step_scores)
    curve = f1_curve(step_scores, labels, taus)
    if np.all(np.isnan(curve)):
        raise ValueError("the dev split needs both erroneous and correct items to choose a threshold")
    best = int(np.nanargmax(curve))
    return float(taus[best]), float(curve[best])


def step_auroc(step_scores: Sequence[StepScores], labels: Sequence[int]) -> float:
    """Threshold-free AUROC of step scores over labelled steps (before the first error: good; at it: bad).

    Steps after the first error carry no label and are skipped. Ties count one half (Mann-Whitney U).
    """
    good, bad = [], []
    for scores, label in zip(step_scores, labels):
        if scores is None:
            continue
        last = len(scores) if label == -1 else min(label, len(scores))
        good.extend(scores[:last])
        if label != -1 and label < len(scores):
            bad.append(scores[label])
    if not good or not bad:
        return math.nan
    g, b = np.asarray(good, dtype=np.float64), np.asarray(bad, dtype=np.float64)
    ranks = rankdata(np.concatenate([g, b]))
    u = ranks[: len(g)].sum() - len(g) * (len(g) + 1) / 2
    return float(u / (len(g) * len(b)))


def in_dev_split(item_id: str, fraction: float, seed: int = 0) -> bool:
    """Deterministic dev membership from a hash of the id: stable across runs, machines and orderings."""
    digest = hashlib.sha256(f"{seed}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


@dataclass
class SubsetItems:
    """One subset's items: ids, gold first-error labels, step scores (None = failed)."""

    name: str
    ids: list[str]
    labels: list[int]
    step_scores: list[StepScores]
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ProcessBenchResult:
    threshold: float
    threshold_rule: str
    dev_f1: float
    subsets: dict[str, dict[str, float]]
    average: dict[str, float]
    missing_subsets: dict[str, str]
    curve: dict[str, list[float]]
    step_auroc: dict[str, float]
    dev_items: int = 0
    dev_fraction: float = 0.0
    """Share of items that chose tau (0: tau was given; 1: chosen on every item, see ``threshold_rule``)."""
    seed: int = 0

    def split_of(self, item_id: str) -> str:
        """``dev`` (chose tau, not scored), ``test`` (held out) or ``all`` (both: the fallback rule)."""
        if self.dev_fraction >= 1.0:
            return "all"
        return "dev" if in_dev_split(item_id, self.dev_fraction, self.seed) else "test"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_result(items: Sequence[SubsetItems], missing: dict[str, str], dev_fraction: float = 0.3,
                   threshold: float | None = None, seed: int = 0) -> ProcessBenchResult:
    """Choose tau on the dev share of every subset (pooled) unless given, then score the held-out rest.

    With a given ``threshold`` there is no dev split: every item is scored.
    """
    fraction = 0.0 if threshold is not None else dev_fraction
    rule = ""
    dev = [[in_dev_split(i, fraction, seed) for i in s.ids] for s in items]
    pooled_scores = [x for s, d in zip(items, dev) for x, keep in zip(s.step_scores, d) if keep]
    pooled_labels = [x for s, d in zip(items, dev) for x, keep in zip(s.labels, d) if keep]
    both = -1 in pooled_labels and any(label != -1 for label in pooled_labels)
    if threshold is None and not both:
        # too few items for a dev split with both categories: choose on everything, and say so
        dev = [[True] * len(s.ids) for s in items]
        pooled_scores = [x for s in items for x in s.step_scores]
        pooled_labels = [x for s in items for x in s.labels]
        fraction = 1.0
        if not (-1 in pooled_labels and any(label != -1 for label in pooled_labels)):
            threshold = 0.5
            rule = ("fixed 0.5: these items are all correct or all erroneous (ProcessBench files are sorted by "
                    "label, so a first-N slice is), no threshold can be chosen and F1 is undefined")
    if threshold is None and not _any_finite(pooled_scores):
        threshold = 0.5
        rule = "fixed 0.5: no dev item could be scored (every one failed), so no threshold can be chosen"
    if threshold is None:
        tau, dev_f1 = choose_threshold(pooled_scores, pooled_labels)
        rule = f"max F1 on a {fraction:.0%} dev split (sha256 of id, seed {seed}), {len(pooled_labels)} items"
        if fraction == 1.0:
            rule = (f"max F1 on ALL {len(pooled_labels)} items (the dev split lacked correct or erroneous "
                    "items): optimistic, the metrics below are on the same items")
    else:
        tau, dev_f1 = threshold, math.nan
        rule = rule or "given"
    per_subset, auroc = {}, {}
    for s, d in zip(items, dev):
        held = [k for k, keep in enumerate(d) if not keep or fraction == 1.0]
        preds = [predict_first_error(s.step_scores[k], tau) for k in held]
        per_subset[s.name] = processbench_metrics(preds, [s.labels[k] for k in held])
        auroc[s.name] = step_auroc([s.step_scores[k] for k in held], [s.labels[k] for k in held])
    keys = ("error_acc", "correct_acc", "f1")
    average = {k: float(np.mean([m[k] for m in per_subset.values()])) for k in keys}
    average["subsets_averaged"] = len(per_subset)  # type: ignore[assignment]
    every = [x for s in items for x in s.step_scores]
    taus = candidate_thresholds(every, limit=200) if _any_finite(every) else np.zeros(0)  # all failed: no curve
    held_scores = [x for s, d in zip(items, dev) for x, keep in zip(s.step_scores, d) if not keep]
    held_labels = [x for s, d in zip(items, dev) for x, keep in zip(s.labels, d) if not keep]
    curve = {"threshold": taus.tolist(),
             "dev_f1": f1_curve(pooled_scores, pooled_labels, taus).tolist() if pooled_labels else [],
             "test_f1": f1_curve(held_scores, held_labels, taus).tolist() if held_labels else []}
    dev_items = 0 if fraction == 1.0 else len(pooled_labels)
    return ProcessBenchResult(tau, rule, dev_f1, per_subset, average, dict(missing), curve, auroc, dev_items,
                              fraction, seed)


def _any_finite(step_scores: Sequence[StepScores]) -> bool:
    return any(math.isfinite(v) for s in step_scores if s is not None for v in s)


def read_processbench_folder(path: Path) -> tuple[list[Any], list[Path]]:
    """Every present ``<subset>.json`` of ``ProcessBench/dataset`` as `StepRecord`s (subset = file stem).

    Absent subsets are simply not read; `evaluate_benchmark` lists them as missing (never as zeros).
    """
    from rewardlab.data import load_steps

    files = [path / f"{name}.json" for name in SUBSETS if (path / f"{name}.json").is_file()]
    if not files:
        raise FileNotFoundError(f"{path}: none of {', '.join(f'{n}.json' for n in SUBSETS)} is present")
    records = [r for f in files for r in load_steps(f, default_subset=f.stem)]
    return records, files


def _source() -> Any:
    from rewardlab.evaluate.benchmarks import BenchmarkSource

    return BenchmarkSource(
        name="processbench", kind="processbench", relative="ProcessBench/dataset", read=read_processbench_folder,
        description="ProcessBench: find the earliest wrong step (gsm8k, math, olympiadbench, omnimath)",
        notes=("needs a process reward (Score.steps); tau chosen on a 30% hash dev split, metrics on the rest",),
        sample=lambda records, limit: sample_items(records, limit),
        sample_rule="sha256-of-id sample in file order (the files list erroneous items first)")


PROCESSBENCH = _source()
"""The ``processbench`` entry of the benchmark registry (entry point in pyproject.toml)."""


def score_records(reward: Any, records: Sequence[Any], progress: bool | None = None) -> tuple[
        list[SubsetItems], dict[str, Any]]:
    """Score step records with any reward that returns ``Score.steps``; per-subset items and a scoring report."""
    from rewardlab.scoring import score_samples

    samples = [r.sample() for r in records]
    scores, report = score_samples(reward, samples, "processbench", progress)
    groups: dict[str, SubsetItems] = {}
    for record, score in zip(records, scores):
        items = groups.setdefault(record.subset, SubsetItems(record.subset, [], [], []))
        if score.ok and score.steps is None:
            raise ValueError(f"reward {reward.name} returned no step scores: ProcessBench needs a process reward")
        if score.ok and len(score.steps) != len(record.steps):
            raise ValueError(f"{record.source}: reward {reward.name} returned {len(score.steps)} step scores "
                             f"for {len(record.steps)} steps")
        item_id = record.id or record.source
        items.ids.append(item_id)
        items.labels.append(record.first_error if record.first_error is not None else -1)
        items.step_scores.append(list(score.steps) if score.ok else None)
        if not score.ok:
            items.errors[item_id] = score.failure_reason or "non-finite score"
    info = {"sequences": report.requested, "failed_sequences": report.failed, "seconds": report.seconds,
            "real_tokens": report.real_tokens, "tokens_per_s": report.tokens_per_second}
    return [groups[name] for name in SUBSETS if name in groups] + [
        g for name, g in groups.items() if name not in SUBSETS], info


def evaluate_benchmark(reward: Any, bench: Any, progress: bool | None = None, dev_fraction: float = 0.3,
                       threshold: float | None = None) -> dict[str, Any]:
    """The harness's block for a ``processbench`` `Benchmark`: scoring report, metrics with the primary
    value (F1 averaged over the present subsets) and the missing subsets, never counted as zeros."""
    return run_benchmark(reward, bench, progress, dev_fraction, threshold)[0]


def run_benchmark(reward: Any, bench: Any, progress: bool | None = None, dev_fraction: float = 0.3,
                  threshold: float | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`evaluate_benchmark`'s block plus its ``items.jsonl`` rows: `score_records` then `benchmark_block`,
    the runner's score and metrics stages for this kind."""
    items, info = score_records(reward, bench.records, progress)
    return benchmark_block(bench.name, items, info, dev_fraction, threshold)


def benchmark_block(bench_name: str, items: Sequence[SubsetItems], info: dict[str, Any], dev_fraction: float = 0.3,
                    threshold: float | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The metrics stage: choose tau, score the held-out items; the block (``scoring``, ``metrics``) and one
    ``items.jsonl`` row per item (step scores, gold label, split, prediction at the frozen tau and whether
    it hit), which is what `rewardlab compare` pairs on."""
    present = {i.name for i in items}
    missing = {name: "file not found under the data root" for name in SUBSETS if name not in present}
    result = compute_result(items, missing, dev_fraction, threshold)
    reasons: dict[str, int] = {}
    for message in (m[:200] for i in items for m in i.errors.values()):
        reasons[message] = reasons.get(message, 0) + 1
    records = sum(len(i.ids) for i in items)
    failed = sum(len(i.errors) for i in items)
    held = sum(m["n_error"] + m["n_correct"] for m in result.subsets.values())
    held_failed = sum(m["failed"] for m in result.subsets.values())
    metrics = {"primary": {"name": f"f1 (mean over {len(items)} subset(s))", "value": result.average["f1"],
                           "scored": held - held_failed, "failed": held_failed, "split": "held-out items"},
               "failures": {"failed": failed, "records": records, "requested": records, "reasons": reasons,
                            "examples": [k for i in items for k in i.errors][:10]},
               "processbench": result.to_dict()}
    return {"scoring": info, "metrics": metrics}, item_rows(bench_name, items, result)


def item_rows(bench_name: str, items: Sequence[SubsetItems], result: ProcessBenchResult) -> list[dict[str, Any]]:
    """One row per item. ``correct`` is the gold verdict of each labelled step (True before the first error,
    False at it; later steps carry no label); ``hit`` (prediction == label at the frozen tau) is None for
    dev-split items, which chose tau and are not scored."""
    rows = []
    for s in items:
        for item_id, label, scores in zip(s.ids, s.labels, s.step_scores):
            split = result.split_of(item_id)
            prediction = predict_first_error(scores, result.threshold)
            hit = None if split == "dev" else prediction is not None and prediction == label
            rows.append({"benchmark": bench_name, "kind": "processbench", "id": item_id, "subset": s.name,
                         "scores": list(scores) if scores is not None else None, "label": label,
                         "correct": gold_step_flags(label, len(scores) if scores is not None else None),
                         "split": split, "prediction": prediction, "hit": hit, "error": s.errors.get(item_id)})
    return rows


def gold_step_flags(label: int, steps: int | None) -> list[bool]:
    """Gold verdicts of the labelled steps: all True for a correct item, else True up to the first error."""
    if label == -1:
        return [True] * (steps or 0)
    return [True] * label + [False]


def evaluate_processbench(reward: Any, data_root: str | Path | None = None, subsets: Sequence[str] = SUBSETS,
                          limit: int | None = None, dev_fraction: float = 0.3, threshold: float | None = None,
                          progress: bool | None = None) -> ProcessBenchResult:
    """ProcessBench from Python: locate the data (as ``rewardlab eval`` does), score, choose tau, report.

    ``limit`` keeps N items of each subset chosen by a hash of their id (`sample_items`). Requested
    subsets whose file is absent are listed in ``missing_subsets`` and left out of the average.
    """
    from rewardlab.evaluate.benchmarks import locate

    unknown = [s for s in subsets if s not in SUBSETS]
    if unknown:
        raise ValueError(f"unknown ProcessBench subset(s) {unknown}; known: {', '.join(SUBSETS)}")
    folder = locate(PROCESSBENCH, data_root)
    records, _ = read_processbench_folder(folder)
    chosen = [r for s in subsets for r in sample_items([x for x in records if x.subset == s], limit)]
    if not chosen:
        raise FileNotFoundError(f"{folder}: none of the requested subsets {list(subsets)} is present")
    items, _ = score_records(reward, chosen, progress)
    present = {i.name for i in items}
    missing = {s: str(folder / f"{s}.json") + " not found" for s in subsets if s not in present}
    return compute_result(items, missing, dev_fraction, threshold)


def sample_items(records: Sequence[Any], limit: int | None) -> list[Any]:
    """``limit`` records chosen by sha256 of their id, in file order. ProcessBench files list erroneous
    items first, so a first-N slice would hold no correct item; a hash sample keeps both in proportion."""
    if limit is None or limit >= len(records):
        return list(records)
    keyed = sorted(range(len(records)), key=lambda k: hashlib.sha256(str(records[k].id).encode()).hexdigest())
    return [records[k] for k in sorted(keyed[:limit])]


def plot_f1_curve(result: ProcessBenchResult, path: str | Path) -> Path:
    """The report's F1-against-threshold figure (dev and held-out, tau marked), written atomically as a PNG."""
    import base64

    from rewardlab.evaluate.figures import processbench_curve
    from rewardlab.io import atomic_writer

    with atomic_writer(path, "wb") as fh:
        fh.write(base64.b64decode(processbench_curve(result.to_dict())))
    return Path(path)

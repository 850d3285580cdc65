"""``rewardlab eval`` as named stages: load -> score -> metrics -> aggregate -> write.

Every benchmark is loaded before anything is scored, so a typo in the last ``--bench`` fails in a second,
not after an hour. Scores go through `rewardlab.scoring.score_samples` (chunked, batch-invariant); a
`Score` with an error or a NaN value is a failure, counted per benchmark and excluded from every metric,
never scored as a tie. Outputs (``results.json``, ``items.jsonl``, ``report.html``) are written atomically.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.evaluate.analysis import Scored, Settings, analyse
from rewardlab.evaluate.benchmarks import Benchmark, load_benchmark
from rewardlab.io import file_sha256

SCHEMA_VERSION = 1


@dataclass
class EvalConfig:
    """One evaluation run; every field is recorded in results.json."""

    reward: str
    benches: list[str]
    out: Path
    data_root: Path | None = None
    limit: int | None = None
    settings: Settings = field(default_factory=Settings)
    report: bool = True
    progress: bool | None = None


def run(config: EvalConfig, reward: Any = None) -> dict[str, Any]:
    """Run every stage and return the results dict (also written to ``config.out``).

    ``reward`` may be passed already built (tests, Python users); otherwise ``config.reward`` is loaded.
    """
    from rewardlab.rewards.base import load_reward

    start, timings = time.perf_counter(), {}
    t = time.perf_counter()
    benches = [load_benchmark(name, config.data_root, config.limit) for name in config.benches]
    timings["load"] = time.perf_counter() - t
    reward = load_reward(reward if reward is not None else config.reward)
    check_capabilities(reward, benches)
    t = time.perf_counter()
    blocks: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    scored = [(bench, score_stage(reward, bench, config.progress)) for bench in benches]
    timings["score"] = time.perf_counter() - t
    t = time.perf_counter()
    for bench, (s, info) in scored:
        blocks[bench.name], bench_rows = metrics_stage(bench, s, info, config.settings)
        rows.extend(bench_rows)
    timings["metrics"] = time.perf_counter() - t
    results = aggregate(config, reward, blocks)
    results["timings_s"] = timings
    results["wall_time_s"] = time.perf_counter() - start  # up to the write stage
    from rewardlab.scoring import is_main_process

    if is_main_process():  # under torchrun every process holds the merged scores; one writes them
        write(config, results, rows)
    return results


def check_capabilities(reward: Any, benches: Sequence[Benchmark], probes: int = 3) -> None:
    """Fail before any long scoring job when a benchmark needs what the reward cannot give: ProcessBench
    needs step scores, so the reward scores an item of every such benchmark first (the first that scores,
    of up to ``probes``) and must return ``Score.steps``."""
    for bench in benches:
        if bench.kind == "master-keys":  # a group judge cannot take single-response probes
            from rewardlab.evaluate import masterkeys

            masterkeys.check_reward(reward)
        if bench.kind != "processbench":
            continue
        for record in bench.records[:probes]:
            probe = reward.score([record.sample()])[0]
            if probe.ok and probe.steps is None:
                raise ValueError(f"benchmark {bench.name!r} needs step scores, but reward "
                                 f"{getattr(reward, 'name', reward)} returns one score per response; use a process "
                                 "reward (process:PATH or process:implicit,policy=..,ref=..; docs/prm.md)")
            if probe.ok:
                break


def score_stage(reward: Any, bench: Benchmark, progress: bool | None) -> tuple[Any, dict[str, Any]]:
    """The score stage of one benchmark: its scored items (kind-specific) and the scoring report."""
    if bench.kind == "processbench":
        from rewardlab.evaluate import processbench

        return processbench.score_records(reward, bench.records, progress)
    if bench.kind == "master-keys":
        from rewardlab.evaluate import masterkeys

        return masterkeys.score_records(reward, bench, progress)
    from rewardlab.evaluate import judging

    if judging.handles(reward, bench.kind):  # pairwise / group judges: each benchmark's own counting rule
        return judging.score_benchmark(reward, bench, progress)
    return score_benchmark(reward, bench, progress)


def metrics_stage(bench: Benchmark, scored: Any, info: dict[str, Any], settings: Settings) -> tuple[
        dict[str, Any], list[dict[str, Any]]]:
    """The metrics stage of one benchmark: its results block and its ``items.jsonl`` rows."""
    if bench.kind == "processbench":  # tau is chosen on its dev split here, from the scores alone
        from rewardlab.evaluate import processbench

        block, rows = processbench.benchmark_block(bench.name, scored, info)
        return {**describe(bench), **block}, rows
    if bench.kind == "master-keys":  # false-positive rate per key, by the reward's acceptance rule
        from rewardlab.evaluate import masterkeys

        block, rows = masterkeys.benchmark_block(bench.name, scored, info, settings)
        return {**describe(bench), **block}, rows
    counting = info.pop("judge_counting", None)
    block = analyse(scored, settings)
    if counting is not None:
        from rewardlab.evaluate import judging

        block = judging.apply_counting(block, counting, scored.subsets, settings)
    return {**describe(bench), "scoring": info, "metrics": block}, item_rows(bench, scored)


def score_benchmark(reward: Any, bench: Benchmark, progress: bool | None) -> tuple[Scored, dict[str, Any]]:
    """Score every response of every record in one job; return aligned arrays and the scoring report."""
    from rewardlab.rewards.base import PairwiseReward
    from rewardlab.scoring import score_samples

    samples = [s for r in bench.records for s in r.samples()]
    before = {k: getattr(reward, k, 0) for k in ("truncated", "dropped")}
    scores, report = score_samples(reward, samples, f"{bench.name}", progress)
    values, errors, correct, lengths, start = [], [], [], [], 0
    all_lengths = response_lengths(reward, [s.response for s in samples])
    for record in bench.records:
        size = 2 if bench.kind == "pairwise" else len(record.responses)
        part = scores[start:start + size]
        values.append(np.array([sc.value if sc.ok else math.nan for sc in part], dtype=np.float64))
        errors.append(next((sc.failure_reason for sc in part if not sc.ok), None))
        correct.append(_gold(bench.kind, record))
        lengths.append(np.asarray(all_lengths[start:start + size], dtype=np.float64))
        start += size
    position = None
    if bench.kind == "pairwise" and isinstance(reward, PairwiseReward):
        position = both_orders(reward, bench.records)
    scored = Scored(bench.kind, values, correct, lengths, [r.subset for r in bench.records],
                    unique_ids(bench.records), errors, position)
    if progress is not False:  # one line per benchmark, so long runs log progress even without a terminal
        from rewardlab.progress import console

        console.print(f"{bench.name}: scored {report.requested:,} sequences in {report.seconds:,.1f} s "
                      f"({report.failed} failed, {report.tokens_per_second:,.0f} tok/s)", highlight=False)
    info = {"sequences": report.requested, "failed_sequences": report.failed, "seconds": report.seconds,
            "real_tokens": report.real_tokens, "tokens_per_s": report.tokens_per_second,
            "truncated": getattr(reward, "truncated", 0) - before["truncated"],
            "dropped": getattr(reward, "dropped", 0) - before["dropped"],
            "length_unit": "tokens" if _tokenizer(reward) is not None else "words"}
    return scored, info


def unique_ids(records: Sequence[Any]) -> list[str]:
    """Record ids for items.jsonl and `compare`: the record's id (or ``#index`` when it has none); a repeated
    id gets ``~2``, ``~3``... so two runs of the same file still pair item by item."""
    seen: dict[str, int] = {}
    out = []
    for i, record in enumerate(records):
        base = str(record.id) if record.id is not None else f"#{i}"
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}~{seen[base]}")
    return out


def _gold(kind: str, record: Any) -> np.ndarray:
    if kind == "pairwise":
        return np.array([True, False])
    return np.asarray(record.correct, dtype=bool)


def _tokenizer(reward: Any) -> Any:
    loaded = getattr(reward, "loaded", None)
    return getattr(loaded, "tokenizer", None)


def response_lengths(reward: Any, texts: list[str]) -> list[int]:
    """Response lengths in the reward's own tokens when it has a tokenizer, else in whitespace words."""
    tok = _tokenizer(reward)
    if tok is None:
        return [len(t.split()) for t in texts]
    out: list[int] = []
    for lo in range(0, len(texts), 512):
        ids = tok(texts[lo:lo + 512], add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        out.extend(len(x) for x in ids)
    return out


def both_orders(reward: Any, pairs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """P(first slot wins) with chosen first and with rejected first, for a pairwise judge (NaN on error)."""
    first, second = [], []
    for pair in pairs:
        chosen, rejected = pair.samples()
        first.append(_safe_compare(reward, chosen, rejected))
        second.append(_safe_compare(reward, rejected, chosen))
    return np.array(first, dtype=np.float64), np.array(second, dtype=np.float64)


def _safe_compare(reward: Any, a: Any, b: Any) -> float:
    try:
        return float(reward.compare(a, b))
    except Exception:  # noqa: BLE001 -- a judge failure is a counted failure (NaN), not a crash
        return math.nan


def describe(bench: Benchmark) -> dict[str, Any]:
    """What was evaluated: kind, files with sha256, records requested / total, the limit, notes."""
    return {"kind": bench.kind, "description": bench.description, "records": len(bench.records),
            "records_total": bench.total, "limit": bench.limit,
            "selection": bench.selection,
            "files": [{"path": str(p), "sha256": file_sha256(p), "bytes": p.stat().st_size} for p in bench.files],
            "notes": bench.notes}


def aggregate(config: EvalConfig, reward: Any, blocks: dict[str, Any]) -> dict[str, Any]:
    """The results document: provenance, settings and every benchmark's block, plus a summary row each."""
    from rewardlab import __version__

    summary = {name: {"metric": b["metrics"]["primary"]["name"], "value": b["metrics"]["primary"]["value"],
                      "ci_low": b["metrics"]["primary"].get("ci_low"),
                      "ci_high": b["metrics"]["primary"].get("ci_high"),
                      "records": b["records"], "failed": b["metrics"]["failures"]["failed"]}
               for name, b in blocks.items()}
    provenance = getattr(reward, "provenance", None)
    return {
        "schema_version": SCHEMA_VERSION,
        "rewardlab_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
        "reward": {"spec": config.reward, "name": getattr(reward, "name", str(reward)),
                   **(provenance() if callable(provenance) else {"provenance": "not reported by this reward"})},
        "settings": {**asdict(config.settings), "limit": config.limit,
                     "data_root": str(config.data_root) if config.data_root else None,
                     "benches": list(config.benches)},
        "environment": environment(),
        "summary": summary,
        "benchmarks": blocks,
    }


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for name in ("numpy", "torch", "transformers", "tokenizers"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    threads = None
    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {"python": platform.python_version(), "platform": platform.platform(), "torch_threads": threads,
            **versions}


def item_rows(bench: Benchmark, s: Scored) -> list[dict[str, Any]]:
    """One row per record: raw scores and gold flags, enough for `compare` to recompute any metric."""
    return [{"benchmark": bench.name, "kind": s.kind, "id": s.ids[i], "subset": s.subsets[i],
             "scores": [None if math.isnan(x) else float(x) for x in s.values[i]],
             "correct": s.correct[i].tolist(), "lengths": s.lengths[i].astype(int).tolist(),
             "error": s.errors[i]} for i in range(len(s.ids))]


def clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf -> null (strict JSON has no NaN), numpy scalars -> Python numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write(config: EvalConfig, results: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """results.json, items.jsonl and report.html, each written atomically."""
    from rewardlab.io import atomic_writer, write_json, write_jsonl

    out = Path(config.out)
    write_json(out / "results.json", clean(results))
    write_jsonl(out / "items.jsonl", (clean(row) for row in items))
    if config.report:
        from rewardlab.evaluate.report import render_report

        html = render_report(clean(results))
        with atomic_writer(out / "report.html") as fh:
            fh.write(html)

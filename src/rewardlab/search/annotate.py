"""Data curation with a reward: score every response of a dataset once, then write RAFT-filtered SFT data,
DPO preference pairs and a scored copy, with the provenance of every number.

Groups are the responses to one prompt: a best-of-N row (``prompt, responses[]``), a preference pair (its
two sides), or the sample rows (``prompt, response``) that share a prompt. Scoring goes through
`rewardlab.scoring.score_samples`, so it is chunked, batched and resumable: a run killed at any point and
started again with ``resume`` scores only the chunks that are missing, and the outputs are written (each
atomically) only once every score is in, so no row is ever duplicated or lost.

- **SFT (RAFT, Dong et al.)**: per prompt the ``top_k`` best responses, or every response scoring at least
  ``threshold`` (both: the top k of those above it); ``prompt, completion, score, id`` rows.
- **DPO pairs**: ``best-worst`` (the best against the worst response of each prompt) or ``margin`` (every
  pair whose scores differ by at least ``margin``); pairs with equal scores are ties, dropped and counted.
- **scored copy**: one row per response with its score, step scores, components and any error.

Failed scores never enter SFT or DPO data; they are counted, and kept (with the reason) in the scored copy.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardlab.io import atomic_writer, file_sha256, write_json, write_jsonl
from rewardlab.types import CandidatesRecord, PairRecord, Prompt, Sample, Score

FORMATS = ("jsonl", "parquet", "hf")
PAIR_MODES = ("best-worst", "margin", "none")


@dataclass
class Group:
    id: str
    prompt: Prompt
    responses: list[str]
    sources: list[str | None]
    reference: str | None = None


@dataclass(frozen=True)
class AnnotateConfig:
    sft_top_k: int | None = 1
    sft_threshold: float | None = None
    pairs: str = "best-worst"
    margin: float = 0.0
    format: str = "jsonl"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; expected one of {', '.join(FORMATS)}")
        if self.pairs not in PAIR_MODES:
            raise ValueError(f"unknown pair mode {self.pairs!r}; expected one of {', '.join(PAIR_MODES)}")
        if self.sft_top_k is not None and self.sft_top_k < 1:
            raise ValueError(f"sft_top_k must be >= 1, got {self.sft_top_k}")
        if self.margin < 0:
            raise ValueError(f"margin must be >= 0, got {self.margin}")


@dataclass
class Counts:
    groups: int = 0
    responses: int = 0
    failed_scores: int = 0
    sft_rows: int = 0
    pairs: int = 0
    ties_dropped: int = 0
    below_margin: int = 0
    groups_without_pair: int = 0
    extra: dict[str, int] = field(default_factory=dict)


def groups_from_records(kind: str, records: Sequence[Any]) -> list[Group]:
    """Candidates and pairs are one group each; samples are grouped by prompt, in order of first appearance."""
    if kind == "candidates":
        return [Group(r.id or r.source or str(i), r.prompt, list(r.responses), [r.source] * len(r.responses),
                      r.reference) for i, r in enumerate(records) if isinstance(r, CandidatesRecord)]
    if kind == "pairs":
        return [Group(r.id or r.source or str(i), r.prompt, [r.chosen, r.rejected], [r.source, r.source])
                for i, r in enumerate(records) if isinstance(r, PairRecord)]
    if kind == "samples":
        by_prompt: dict[str, Group] = {}
        for i, s in enumerate(records):
            key = json.dumps(s.prompt, sort_keys=True, ensure_ascii=False)
            group = by_prompt.get(key)
            if group is None:
                gid = s.metadata.get("id") or s.metadata.get("source") or str(i)
                group = by_prompt[key] = Group(str(gid), s.prompt, [], [], s.reference)
            group.responses.append(s.response)
            group.sources.append(s.metadata.get("source"))
        return list(by_prompt.values())
    raise ValueError(f"annotate reads candidates, pairs or samples; this input holds {kind} records")


def sft_rows(groups: Sequence[Group], scores: Sequence[Sequence[Score]],
             config: AnnotateConfig) -> list[dict[str, Any]]:
    rows = []
    for g, row in zip(groups, scores):
        ranked = sorted((j for j, s in enumerate(row) if s.ok), key=lambda j: (-row[j].value, j))
        if config.sft_threshold is not None:
            ranked = [j for j in ranked if row[j].value >= config.sft_threshold]
        if config.sft_top_k is not None:
            ranked = ranked[:config.sft_top_k]
        for rank, j in enumerate(ranked):
            rows.append({"id": g.id, "prompt": g.prompt, "completion": _completion(g.prompt, g.responses[j]),
                         "score": row[j].value, "rank": rank, "index": j})
    return rows


def dpo_rows(groups: Sequence[Group], scores: Sequence[Sequence[Score]], config: AnnotateConfig,
             counts: Counts) -> list[dict[str, Any]]:
    rows = []
    if config.pairs == "none":
        return rows
    for g, row in zip(groups, scores):
        ok = [j for j, s in enumerate(row) if s.ok]
        candidates: list[tuple[int, int]] = []
        if config.pairs == "best-worst":
            if len(ok) >= 2:
                best = max(ok, key=lambda j: (row[j].value, -j))
                worst = min(ok, key=lambda j: (row[j].value, j))
                candidates = [(best, worst)]
        else:
            candidates = [(a, b) for a in ok for b in ok if a != b and row[a].value >= row[b].value]
            candidates = [(a, b) for a, b in candidates if row[a].value > row[b].value or a < b]  # each tie once
        made = 0
        for a, b in candidates:
            diff = row[a].value - row[b].value
            if diff == 0:
                counts.ties_dropped += 1
                continue
            if diff < config.margin:
                counts.below_margin += 1
                continue
            rows.append({"id": g.id, "prompt": g.prompt, "chosen": g.responses[a], "rejected": g.responses[b],
                         "chosen_score": row[a].value, "rejected_score": row[b].value, "margin": diff,
                         "chosen_index": a, "rejected_index": b})
            made += 1
        counts.groups_without_pair += made == 0
    return rows


def scored_rows(groups: Sequence[Group], scores: Sequence[Sequence[Score]]) -> list[dict[str, Any]]:
    return [{"id": g.id, "index": j, "prompt": g.prompt, "response": g.responses[j],
             "score": s.value if s.ok else None, "steps": s.steps, "components": s.components or None,
             "error": s.failure_reason, "source": g.sources[j]}
            for g, row in zip(groups, scores) for j, s in enumerate(row)]


def _completion(prompt: Prompt, response: str) -> Any:
    """TRL's prompt-completion layout: a string for a text prompt, an assistant turn for a conversation."""
    return response if isinstance(prompt, str) else [{"role": "assistant", "content": response}]


def write_rows(path_stem: Path, rows: list[dict[str, Any]], fmt: str) -> Path:
    """``STEM.jsonl``, ``STEM.parquet`` or the HF dataset folder ``STEM/``, each written atomically."""
    if fmt == "jsonl":
        path = path_stem.with_name(path_stem.name + ".jsonl")
        write_jsonl(path, rows)
        return path
    table_rows = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v) for k, v in r.items()}
                  for r in rows]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = path_stem.with_name(path_stem.name + ".parquet")
        table = pa.Table.from_pylist(table_rows) if table_rows else pa.table({})
        with atomic_writer(path, "wb") as fh:
            pq.write_table(table, fh)
        return path
    from datasets import Dataset

    path = path_stem
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    Dataset.from_list(table_rows).save_to_disk(str(tmp))
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def annotate(reward: Any, groups: Sequence[Group], out: str | Path, config: AnnotateConfig = AnnotateConfig(),
             spec: str = "", data: str = "", resume: bool = False, chunk: int = 256,
             show_progress: bool | None = None) -> dict[str, Any]:
    """Score, curate and write everything under ``out``; returns the provenance record (also written)."""
    from rewardlab import __version__
    from rewardlab.scoring import reward_fingerprint, score_samples, scoring_job

    out = Path(out)
    samples = [Sample(g.prompt, r, reference=g.reference, metadata={"id": g.id}) for g in groups for r in g.responses]
    start = time.perf_counter()
    with scoring_job(out / ".chunks", resume, identity=spec or getattr(reward, "name", "")) as job:
        flat, report = score_samples(reward, samples, description="annotating", show_progress=show_progress,
                                     chunk=chunk, job=job)
        it = iter(flat)
        scores = [[next(it) for _ in g.responses] for g in groups]
        counts = Counts(groups=len(groups), responses=len(samples), failed_scores=sum(not s.ok for s in flat))
        sft = sft_rows(groups, scores, config)
        pairs = dpo_rows(groups, scores, config, counts)
        counts.sft_rows, counts.pairs = len(sft), len(pairs)
        if not job.is_main:  # under torchrun every process scores its share; process 0 writes
            return {}
        outputs = {"scored": write_rows(out / "scored", scored_rows(groups, scores), config.format),
                   "sft": write_rows(out / "sft", sft, config.format)}
        if config.pairs != "none":
            outputs["dpo"] = write_rows(out / "dpo", pairs, config.format)
        record = {
            "rewardlab_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "reward": spec or getattr(reward, "name", None), "reward_fingerprint": reward_fingerprint(reward),
            "input": data, "input_sha256": file_sha256(data) if data and Path(data).is_file() else None,
            "config": asdict(config),
            "counts": {k: v for k, v in asdict(counts).items() if k != "extra"},
            "scoring": {"seconds": round(time.perf_counter() - start, 3), "resumed_responses": report.resumed,
                        "chunk": chunk, "processes": report.processes},
            "outputs": {k: str(v) for k, v in outputs.items()},
        }
        write_json(out / "provenance.json", record)
    return record


__all__ = ["AnnotateConfig", "Group", "annotate", "dpo_rows", "groups_from_records", "sft_rows", "scored_rows",
           "write_rows"]

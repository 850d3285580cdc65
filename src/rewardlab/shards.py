"""The pieces of a sharded scoring job: chunk boundaries, which process scores which chunk, and the
folder of finished chunks that makes a job resumable.

Chunks are fixed runs of consecutive samples, so their boundaries never depend on the number of
processes; that is what makes N processes give the bytes of one. A finished chunk is one JSON file
written atomically (floats as Python's shortest round-trip repr, so reloading is exact), filed under the
job's fingerprint: the samples' content, the reward's identity and the chunk size.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardlab.io import atomic_writer, write_json
from rewardlab.types import Sample, Score

JOB_FILE = "job.json"


def chunk_bounds(n: int, chunk: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` of each chunk of ``chunk`` consecutive items (the last may be shorter)."""
    if chunk <= 0:
        raise ValueError(f"chunk size must be positive, got {chunk}")
    return [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]


def assign_chunks(costs: Sequence[float], world: int) -> list[list[int]]:
    """Deal chunks to ``world`` processes, largest first to the least loaded (LPT scheduling), so the
    processes finish at about the same time. Deterministic; each process's chunks in input order."""
    if world <= 0:
        raise ValueError(f"world size must be positive, got {world}")
    loads = [(0.0, rank) for rank in range(world)]
    heapq.heapify(loads)
    owned: list[list[int]] = [[] for _ in range(world)]
    for k in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        load, rank = heapq.heappop(loads)
        owned[rank].append(k)
        heapq.heappush(loads, (load + costs[k], rank))
    return [sorted(ks) for ks in owned]


def job_key(identity: str, reward_fingerprint: str, chunk: int, samples: Sequence[Sample]) -> str:
    """sha256 fingerprint of everything a job's scores depend on (metadata such as ids does not count)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([identity, reward_fingerprint, chunk, len(samples)]).encode())
    for s in samples:
        item = [s.prompt, s.response, list(s.steps) if s.steps is not None else None, s.reference]
        digest.update(json.dumps(item, ensure_ascii=False, sort_keys=True).encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()


def score_to_record(score: Score) -> dict[str, Any]:
    return {"value": score.value, "steps": score.steps, "components": score.components,
            "rationale": score.rationale, "error": score.error}


def score_from_record(record: dict[str, Any]) -> Score:
    return Score(value=float(record["value"]), steps=record.get("steps"), components=record.get("components") or {},
                 rationale=record.get("rationale"), error=record.get("error"))


class ChunkStore:
    """``FOLDER/job-<fingerprint>/chunk-<k>.json``: the finished chunks of one scoring call."""

    def __init__(self, root: Path, key: str, n_samples: int, chunk: int):
        self.root = Path(root)
        self.folder = self.root / f"job-{key[:24]}"
        self.key, self.n_samples, self.chunk = key, n_samples, chunk

    def create(self) -> None:
        """Called by the main process before the others look (they wait at a barrier)."""
        if not (self.folder / JOB_FILE).is_file():
            write_json(self.folder / JOB_FILE, {"fingerprint": self.key, "samples": self.n_samples,
                                                "chunk": self.chunk})

    def path(self, k: int) -> Path:
        return self.folder / f"chunk-{k:07d}.json"

    def save(self, k: int, scores: list[Score]) -> None:
        with atomic_writer(self.path(k)) as fh:
            json.dump({"chunk": k, "count": len(scores), "scores": [score_to_record(s) for s in scores]}, fh)

    def load(self, k: int) -> list[Score] | None:
        """The chunk's scores if a previous run finished it, else None."""
        path = self.path(k)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            scores = [score_from_record(r) for r in data["scores"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: unreadable checkpoint chunk ({exc}); delete it to score it again") from None
        expected = min(self.chunk, self.n_samples - k * self.chunk)
        if data.get("chunk") != k or len(scores) != expected:
            raise ValueError(f"{path}: holds {len(scores)} scores for chunk {data.get('chunk')}, expected "
                             f"{expected} for chunk {k}; delete it to score it again")
        return scores

    @staticmethod
    def holds_work(root: Path) -> bool:
        return Path(root).is_dir() and any(Path(root).glob("job-*/chunk-*.json"))

    @staticmethod
    def remove(root: Path) -> None:
        shutil.rmtree(root, ignore_errors=True)

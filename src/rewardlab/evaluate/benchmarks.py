"""The benchmark registry: a name (or a file path) in, a `Benchmark` of typed records out.

Built-in benchmarks register through the entry-point group ``rewardlab.benchmarks`` (pyproject.toml), the
same hook a third-party plugin uses: each entry point names a `BenchmarkSource` (what file it needs, under
which data root, and how to read it). A name that is not registered but is an existing path is read as a
user file in any format the data layer detects (pairwise / hh-rlhf / messages -> pairwise accuracy;
RewardBench 2 or best-of-N groups -> best-of-N accuracy, including the RB2 Ties composite).

Data roots, in order: ``--data-root``, ``$REWARDLAB_DATA``, ``../shared/data`` from the working directory,
and ``../shared/data`` beside the source checkout. A missing file says every place it looked.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rewardlab.registry import Registry

BENCHMARKS: Registry = Registry("benchmark", group="rewardlab.benchmarks")
KINDS = ("pairwise", "best-of-n", "rm-bench", "processbench", "master-keys")
ROUND_ROBIN = "round-robin over subsets, file order"
DATA_ENV = "REWARDLAB_DATA"


@dataclass
class Benchmark:
    """Loaded records of one benchmark, ready to score.

    ``kind`` picks the metrics: ``pairwise`` (`PairRecord`s), ``best-of-n`` (`CandidatesRecord`s with gold
    ``correct`` flags), ``rm-bench`` (`CandidatesRecord`s of 3 chosen then 3 rejected styles) or
    ``processbench`` (`StepRecord`s with a gold first-error step) or ``master-keys`` (`CandidatesRecord`s of
    a reference solution then the master keys: `rewardlab.evaluate.masterkeys`).
    ``total`` is the record count before ``limit``; ``files`` are hashed into the provenance; ``selection``
    says how a ``limit`` picked the records.
    """

    name: str
    kind: str
    records: list[Any]
    files: list[Path]
    description: str = ""
    total: int = 0
    limit: int | None = None
    notes: list[str] = field(default_factory=list)
    selection: str = "all"


@dataclass(frozen=True)
class BenchmarkSource:
    """How to find and read one benchmark: ``relative`` is its file or folder under a data root, and
    ``read(path) -> (records, files)`` turns it into records (raising `DataError` on bad rows).
    ``sample(records, limit)`` picks records under ``--limit`` where the default round-robin slice would be
    biased (ProcessBench files list every erroneous item before the correct ones)."""

    name: str
    kind: str
    relative: str
    read: Callable[[Path], tuple[list[Any], list[Path]]]
    description: str = ""
    notes: tuple[str, ...] = ()
    sample: Callable[[list[Any], int], list[Any]] | None = None
    sample_rule: str = ROUND_ROBIN


class MissingBenchmarkData(FileNotFoundError):
    """The benchmark's data was not found under any data root; the message lists where it looked."""

    def __str__(self) -> str:
        return str(self.args[0])


def data_roots(data_root: str | Path | None = None) -> list[tuple[Path, str]]:
    """Candidate data roots with where each came from, in the order they are tried."""
    roots: list[tuple[Path, str]] = []
    if data_root is not None:
        return [(Path(data_root), "--data-root")]
    if os.environ.get(DATA_ENV):
        roots.append((Path(os.environ[DATA_ENV]), f"${DATA_ENV}"))
    roots.append((Path.cwd().parent / "shared" / "data", "../shared/data from the working directory"))
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").exists():
        roots.append((checkout.parent / "shared" / "data", "../shared/data beside the rewardlab checkout"))
    unique: dict[Path, str] = {}
    for path, why in roots:
        unique.setdefault(path.resolve(), why)
    return list(unique.items())


def locate(source: BenchmarkSource, data_root: str | Path | None = None) -> Path:
    """The first existing ``root / source.relative``; otherwise `MissingBenchmarkData` naming each try."""
    tried = []
    for root, why in data_roots(data_root):
        path = root / source.relative
        if path.exists():
            return path
        tried.append(f"{path} ({why})")
    raise MissingBenchmarkData(
        f"benchmark {source.name!r}: data not found; looked for {source.relative!r} at: " + "; ".join(tried)
        + f". Point elsewhere with --data-root DIR (or {DATA_ENV}=DIR), where DIR holds {source.relative}"
    )


def load_benchmark(name: str, data_root: str | Path | None = None, limit: int | None = None) -> Benchmark:
    """A registered benchmark by name, or a user file by path; ``limit`` keeps N records (see `select`)."""
    source = None
    if name not in BENCHMARKS and Path(name).exists():
        bench = load_user_file(Path(name))
    elif name not in BENCHMARKS and _looks_like_path(name):
        raise FileNotFoundError(f"benchmark file not found: {name} (resolved to {Path(name).resolve()}); "
                                f"registered benchmarks: {', '.join(available())}")
    else:
        try:
            source = BENCHMARKS.get(name)
        except KeyError as exc:
            raise type(exc)(f"{exc} (or pass the path of a pairwise / best-of-N / RewardBench file)") from None
        path = locate(source, data_root)
        records, files = source.read(path)
        bench = Benchmark(source.name, source.kind, records, files, source.description, notes=list(source.notes))
    bench.total = len(bench.records)
    if limit is not None:
        if limit < 0:
            raise ValueError(f"--limit must be >= 0, got {limit}")
        if source is None and bench.kind == "processbench":  # a user's step file: the same unbiased sample
            source = BENCHMARKS.get("processbench")
        if source is not None and source.sample is not None:
            bench.records, bench.selection = source.sample(bench.records, limit), source.sample_rule
        else:
            bench.records, bench.selection = select(bench.records, limit), ROUND_ROBIN
        bench.limit = limit
    return bench


def select(records: Sequence[Any], limit: int) -> list[Any]:
    """The first ``limit`` records taking subsets in turn (round-robin, file order within each subset), so
    a small slice still covers every subset. Deterministic: the same file and limit give the same slice."""
    if limit < 0:
        raise ValueError(f"--limit must be >= 0, got {limit}")
    by_subset: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        by_subset[record.subset].append(record)
    queues = [list(reversed(group)) for group in by_subset.values()]
    chosen: list[Any] = []
    while len(chosen) < limit and any(queues):
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    order = {id(r): i for i, r in enumerate(records)}
    return sorted(chosen, key=lambda r: order[id(r)])


def load_user_file(path: Path) -> Benchmark:
    """A user file: pairs (pairwise, hh-rlhf, messages, RewardBench v1), candidates (best-of-N, RB2) or
    step-labelled solutions (scored with the ProcessBench metric)."""
    from rewardlab.data import load_records

    kind, records = load_records(path)
    if kind == "pairs":
        return Benchmark(path.name, "pairwise", records, [path], f"pairwise file {path}")
    if kind == "candidates":
        return Benchmark(path.name, "best-of-n", [_with_gold(r) for r in records], [path],
                         f"best-of-N file {path}")
    if kind == "steps":
        return Benchmark(path.name, "processbench", records, [path], f"step-labelled file {path} (ProcessBench metric)")
    raise ValueError(f"{path}: detected {kind} records; rewardlab eval reads pairwise, best-of-N and step-labelled "
                     "files")


def _with_gold(record: Any) -> Any:
    """Best-of-N needs gold ``correct`` flags; with only gold ``scores``, the gold-best candidates count as
    correct. A group with neither cannot be evaluated and is an error naming its source."""
    if record.correct is not None:
        return record
    if record.scores is None:
        raise ValueError(f"{record.source}: field 'correct': best-of-N evaluation needs gold correct[] or "
                         "scores[] for every group")
    best = max(record.scores)
    return replace(record, correct=tuple(s == best for s in record.scores))


def _looks_like_path(name: str) -> bool:
    return "/" in name or os.sep in name or name.endswith((".json", ".jsonl", ".gz", ".parquet", ".pq"))


def available() -> list[str]:
    """Registered benchmark names (entry points), sorted."""
    return BENCHMARKS.names()

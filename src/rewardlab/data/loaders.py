"""The public loaders: a path in, typed records out, every record carrying its ``source`` (file:line).

All loaders read through `read_rows` (so every file kind works), detect the format from the first row
unless told (``format=``), and apply that one adapter to every row: a row that does not fit raises a
located `DataError`; none is skipped. An input with no rows at all is an error too (an empty export is a
mistake far more often than an intention).
"""

from __future__ import annotations

from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any

from rewardlab.data.adapters import adapter, check_format, check_kind, detect_format, kind_of
from rewardlab.data.errors import DataError
from rewardlab.data.groups import samples as sample_adapter
from rewardlab.data.keys import FieldKeys
from rewardlab.data.readers import DEFAULT_MAX_LINE_BYTES, read_rows
from rewardlab.types import CandidatesRecord, PairRecord, Sample, StepRecord


def load_records(path: str | Path, kind: str = "auto", keys: FieldKeys | None = None, format: str = "auto", *,
                 split: str | None = None, limit: int | None = None, default_subset: str = "default",
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, allow_empty: bool = False) -> tuple[str, list[Any]]:
    """Load any supported file; returns ``(kind, records)`` with kind in pairs|candidates|steps|samples.

    ``kind`` restricts detection to one kind (and checks an explicit ``format`` against it); ``limit``
    stops reading after that many records; ``default_subset`` labels rows that have no subset field;
    ``allow_empty`` accepts empty responses in samples (a policy can really produce one).
    """
    keys = keys or FieldKeys()
    rows = read_rows(path, split=split, max_line_bytes=max_line_bytes)
    first = next(rows, None)
    if first is None:
        raise DataError("no rows found (the input is empty)", path=str(path))
    wanted = None if kind == "auto" else check_kind(kind)
    if format == "auto":
        format = detect_format(first, keys, wanted)
    elif wanted is not None and kind_of(format) != wanted:
        raise first.error(f"format {format!r} gives {kind_of(format)} records, but {wanted} were requested")
    convert = adapter(check_format(format))
    if allow_empty and format == "samples":
        convert = partial(sample_adapter, allow_empty=True)
    selected = chain([first], rows) if limit is None else islice(chain([first], rows), max(limit, 0))
    return kind_of(format), [convert(row, keys, default_subset) for row in selected]


def load_pairs(path: str | Path, keys: FieldKeys | None = None, format: str = "auto",
               **options: Any) -> list[PairRecord]:
    """Preference pairs from a pairwise, messages or hh-rlhf file (options as `load_records`)."""
    return load_records(path, "pairs", keys, format, **options)[1]


def load_candidates(path: str | Path, keys: FieldKeys | None = None, format: str = "auto",
                    **options: Any) -> list[CandidatesRecord]:
    """Best-of-N groups from a best-of-n or RewardBench 2 file (options as `load_records`)."""
    return load_records(path, "candidates", keys, format, **options)[1]


def load_steps(path: str | Path, keys: FieldKeys | None = None, format: str = "auto",
               **options: Any) -> list[StepRecord]:
    """Step-labelled solutions, e.g. ProcessBench (options as `load_records`)."""
    return load_records(path, "steps", keys, format, **options)[1]


def load_samples(path: str | Path, keys: FieldKeys | None = None, format: str = "auto",
                 **options: Any) -> list[Sample]:
    """Samples to score (``prompt, response`` etc.; options as `load_records`, plus ``allow_empty``).

    ``metadata`` of each sample holds ``id``, ``subset`` and ``source``.
    """
    return load_records(path, "samples", keys, format, **options)[1]

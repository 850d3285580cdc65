"""Training records: load with every bad row counted, split by prompt, and score pairwise accuracy.

Unlike scoring, training must not stop at the first bad row of a 200k-row file and must not learn from
useless pairs. Rows are converted one by one with the data layer's own adapters; identical chosen and
rejected, empty sides, NaN margins and other malformed rows are counted by kind with their first
locations. ``bad_pairs="error"`` raises one message listing them all (before any model is loaded);
``"skip"`` drops them and the counts go into the run report. Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.data import DataError, FieldKeys, read_rows
from rewardlab.data.adapters import adapter, detect_format
from rewardlab.types import PairRecord, Sample, prompt_to_text

SHOWN = 3  # locations listed per kind of problem


@dataclass
class BadRows:
    """Problems found while loading, by kind: ``{"identical": ["f.jsonl:4", ...], ...}``."""

    by_kind: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        self.by_kind.setdefault(kind, []).append(where)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_kind.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in sorted(self.by_kind.items())}

    def summary(self) -> str:
        parts = []
        for kind, where in sorted(self.by_kind.items()):
            more = f", ... {len(where) - SHOWN} more" if len(where) > SHOWN else ""
            parts.append(f"{len(where)} {kind} ({'; '.join(where[:SHOWN])}{more})")
        return "; ".join(parts)


def classify_error(exc: DataError, margin_key: str) -> str:
    """Name the kind of a row problem: empty side, NaN margin, or anything else malformed."""
    if exc.field == margin_key:
        return "non-finite margin"
    if "empty" in exc.reason or "whitespace" in exc.reason:
        return "empty side"
    return "malformed"


def load_rows_checked(path: str, keys: FieldKeys, kind: str, extra: Callable[[Any, Any], Any] | None,
                      policy: str) -> tuple[list[Any], list[Any], BadRows]:
    """Convert every row of ``path`` with the detected adapter; returns (records, extras, bad rows).

    ``extra(row, record)`` reads recipe-specific fields (attributes, ratings) and may raise `DataError`.
    With ``policy="error"`` any problem raises after the whole file has been read, listing them all.
    """
    rows = read_rows(path)
    first = next(rows, None)
    if first is None:
        raise DataError("no rows found (the input is empty)", path=path)
    convert = adapter(detect_format(first, keys, kind))
    records, extras, bad = [], [], BadRows()
    for row in _chain(first, rows):
        try:
            record = convert(row, keys, "default")
            value = extra(row, record) if extra else None
        except DataError as exc:
            bad.add(classify_error(exc, keys.margin_key), f"{exc.location}" + (f" field '{exc.field}'"
                                                                                 if exc.field else ""))
            continue
        if isinstance(record, PairRecord):
            where = row.error("").location  # the same "file:line N" form as the data layer's errors
            if not record.chosen.strip() or not record.rejected.strip():  # e.g. an hh-rlhf turn left blank
                bad.add("empty side", f"{where} field '{'rejected' if record.chosen.strip() else 'chosen'}'")
                continue
            if record.chosen.strip() == record.rejected.strip():
                bad.add("identical chosen/rejected", where)
                continue
        records.append(record)
        extras.append(value)
    if bad.total and policy == "error":
        raise DataError(f"{bad.total} unusable record(s): {bad.summary()}. Fix them, or pass --bad-pairs skip "
                        "to drop them (the counts are reported)", path=path)
    if not records:
        raise DataError(f"no usable records ({bad.summary() or 'empty'})", path=path)
    return records, extras, bad


def load_pairs_checked(path: str, keys: FieldKeys, policy: str, extra=None) -> tuple[list[PairRecord], list[Any],
                                                                                     BadRows]:
    return load_rows_checked(path, keys, "pairs", extra, policy)


def load_samples_checked(path: str, keys: FieldKeys, policy: str, extra) -> tuple[list[Sample], list[Any], BadRows]:
    return load_rows_checked(path, keys, "samples", extra, policy)


def prompt_key_of(record: Any) -> str:
    return prompt_to_text(record.prompt)


def split_by_prompt(items: Sequence[Any], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """Indices (train, held-out): a prompt goes wholly to one side, chosen by a seeded hash (no leakage)."""
    train, held = [], []
    for i, item in enumerate(items):
        digest = hashlib.sha256(f"{seed}:{prompt_key_of(item)}".encode()).digest()
        (held if int.from_bytes(digest[:8], "big") / 2**64 < fraction else train).append(i)
    return train, held


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> dict[str, float]:
    """Held-out accuracy for the run record, from the evaluation harness's metric (one definition).

    Strict rule (a tie is wrong, as TRL and reward-bench's classifier path count it), a seeded
    percentile-bootstrap 95% interval, the tie count and the half-credit accuracy beside it.
    """
    from rewardlab.evaluate.metrics import pairwise_accuracy as harness_accuracy

    result = harness_accuracy(np.asarray(chosen, dtype=np.float64), np.asarray(rejected, dtype=np.float64))
    strict = result["strict"]
    return {"accuracy": strict.value, "ci_low": strict.ci_low, "ci_high": strict.ci_high, "ties": strict.ties,
            "pairs": strict.n, "failed": strict.failed, "half_credit_accuracy": result["half"].value}


def _chain(first, rest):
    yield first
    yield from rest

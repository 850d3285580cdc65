"""`DataError`: the one exception bad input raises, pointing at the file, the row and the field.

A user with a 200k-row file needs to know *where* the problem is and *what* was wrong, so the message
always reads ``<where>: field '<field>': expected <what>, found <what>``. ``where`` is ``file:line N`` for
line-based files (1-based, as editors count) and ``file[N]`` for indexed containers (0-based: JSON arrays,
Parquet, HF datasets), because that is how each is addressed when you go and look.
"""

from __future__ import annotations

from typing import Any


class DataError(ValueError):
    """A malformed input file or row.

    Attributes:
        path: the file (or dataset folder / hub id) as the user gave it, or None when unknown.
        line: 1-based line number (line-based files) or 0-based index (``indexed=True``), or None.
        field: the offending field, e.g. ``"chosen"`` or ``"steps[3]"``, or None for row/file errors.
        reason: the message without the location prefix.
        indexed: True when ``line`` is a 0-based index into a container rather than a line number.
    """

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None, indexed: bool = False) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        self.indexed = indexed
        super().__init__(self.render())

    @property
    def location(self) -> str:
        """``file:line N``, ``file[N]``, ``file`` or ``""``."""
        where = self.path or ""
        if self.line is None:
            return where
        return f"{where}[{self.line}]" if self.indexed else f"{where}:line {self.line}"

    def render(self) -> str:
        parts = [p for p in (self.location, f"field '{self.field}'" if self.field else "") if p]
        return ": ".join([*parts, self.reason])


def describe(value: Any) -> str:
    """A short human description of a value for "found ..." messages (never the whole 50 MB string)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        if not value:
            return "an empty string"
        if not value.strip():
            return f"a whitespace-only string ({len(value)} chars)"
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"string {short!r}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "an empty list"
        kinds = sorted({_kind(v) for v in value})
        return f"a list of {len(value)} item{'s' * (len(value) != 1)} ({', '.join(kinds)})"
    if isinstance(value, dict):
        return f"an object with keys {_keys(value)}"
    return f"a {type(value).__name__}"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {"str": "string", "list": "list", "dict": "object"}.get(type(value).__name__, type(value).__name__)


def _keys(mapping: dict[str, Any], limit: int = 20) -> str:
    keys = [str(k) for k in mapping]
    shown = ", ".join(repr(k) for k in keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}]"


def present_keys(mapping: dict[str, Any]) -> str:
    """The keys of a row, for "missing key" messages."""
    return _keys(mapping)

"""Typed field access for adapters: each getter returns a clean value or raises a located `DataError`.

Every check says what was expected and what was found (``expected a non-empty string, found a list of 3
items``), so a bad row is fixed in one look. "Text" means a string that is not empty or whitespace-only:
an empty prompt or response is almost always a broken export, and scoring it would hide the breakage.
"""

from __future__ import annotations

import math
from typing import Any

from rewardlab.data.errors import describe, present_keys
from rewardlab.data.readers import Row
from rewardlab.types import Message, Prompt

ROLES = ("system", "user", "assistant", "tool")


def find_key(row: Row, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` present in the row, or None."""
    return next((n for n in names if n in row.data), None)


def require(row: Row, names: str | tuple[str, ...]) -> tuple[str, Any]:
    """(key, value) of the first present name; a missing key names itself and lists the keys present."""
    names = (names,) if isinstance(names, str) else names
    key = find_key(row, names)
    if key is None:
        also = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        raise row.error(f"missing key {names[0]!r}{also}; keys present: {present_keys(row.data)}", names[0])
    return key, row.data[key]


def check_text(row: Row, field: str, value: Any, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise row.error(f"expected a non-empty string, found {describe(value)}", field)
    if not allow_empty and not value.strip():
        raise row.error(f"expected a non-empty string, found {describe(value)}", field)
    return value


def text(row: Row, names: str | tuple[str, ...], allow_empty: bool = False) -> str:
    key, value = require(row, names)
    return check_text(row, key, value, allow_empty)


def text_list(row: Row, names: str | tuple[str, ...], allow_str: bool = False) -> list[str]:
    """A non-empty list of non-empty strings (a bare string too when ``allow_str``)."""
    key, value = require(row, names)
    if allow_str and isinstance(value, str):
        return [check_text(row, key, value)]
    if not isinstance(value, (list, tuple)) or not value:
        expected = "a non-empty list of strings" + (" or a string" if allow_str else "")
        raise row.error(f"expected {expected}, found {describe(value)}", key)
    return [check_text(row, f"{key}[{i}]", v) for i, v in enumerate(value)]


def is_messages(value: Any) -> bool:
    """True for a non-empty list whose items are all objects (chat messages, to be validated)."""
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(m, dict) for m in value)


def check_messages(row: Row, field: str, value: Any) -> list[Message]:
    """A non-empty list of ``{"role": str, "content": non-empty str}`` objects."""
    if not is_messages(value):
        raise row.error(f"expected a non-empty list of chat messages ({{'role', 'content'}} objects), "
                        f"found {describe(value)}", field)
    out: list[Message] = []
    for i, message in enumerate(value):
        for part in ("role", "content"):
            if part not in message:
                raise row.error(f"missing key {part!r}; keys present: {present_keys(message)}", f"{field}[{i}]")
        role = message["role"]
        if role not in ROLES:
            raise row.error(f"expected a role in {list(ROLES)}, found {describe(role)}", f"{field}[{i}].role")
        out.append({"role": role, "content": check_text(row, f"{field}[{i}].content", message["content"])})
    return out


def prompt(row: Row, names: tuple[str, ...]) -> Prompt:
    """A prompt: non-empty text or a list of chat messages."""
    key, value = require(row, names)
    return check_messages(row, key, value) if isinstance(value, (list, tuple)) else check_text(row, key, value)


def optional_text(row: Row, key: str, default: str | None = None) -> str | None:
    """An optional label such as ``subset``: absent or null gives ``default``; numbers become strings."""
    value = row.data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise row.error(f"expected a string (or number), found {describe(value)}", key)
    return str(value)


def optional_float(row: Row, key: str) -> float | None:
    value = row.data.get(key)
    if value is None:
        return None
    return number(row, key, value)


def number(row: Row, field: str, value: Any, unit: bool = False) -> float:
    """A finite number (booleans refused), in [0, 1] when ``unit``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise row.error(f"expected a finite number{' in [0, 1]' if unit else ''}, found {describe(value)}", field)
    if unit and not 0.0 <= value <= 1.0:
        raise row.error(f"expected a number in [0, 1], found {describe(value)}", field)
    return float(value)


def flag(row: Row, field: str, value: Any) -> bool:
    """A boolean; 0 and 1 are accepted as the integers many exports write."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise row.error(f"expected true/false (or 0/1), found {describe(value)}", field)


def optional_flag(row: Row, names: tuple[str, ...]) -> bool | None:
    key = find_key(row, names)
    if key is None or row.data[key] is None:
        return None
    return flag(row, key, row.data[key])


def integer(row: Row, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise row.error(f"expected an integer, found {describe(value)}", field)
    return value


def same_length(row: Row, field: str, values: list[Any], expected: int, what: str) -> None:
    if not isinstance(values, (list, tuple)):
        raise row.error(f"expected a list with one entry per {what} ({expected}), found {describe(values)}", field)
    if len(values) != expected:
        raise row.error(f"expected {expected} entries (one per {what}), found {len(values)}", field)

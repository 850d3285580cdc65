"""One small, loud registry for the seams users plug into (reward families, benchmarks, judge backends).

Entries are lazy ``"module:attr"`` strings, so listing names never imports torch. Built-ins are declared
as entry points in ``pyproject.toml`` under the same group a third-party plugin uses, which keeps the
plugin path tested by every run. Registering a name twice is an error; an unknown name gets a
"did you mean" suggestion.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """Raised for unknown or colliding registry names; the message is the whole explanation."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it readable
        return str(self.args[0])


class Registry(Generic[T]):
    """Maps snake_case names to objects, loaded on first use.

    ``group`` is the entry-point group scanned once, lazily, on the first lookup.
    """

    def __init__(self, kind: str, group: str | None = None, builtins: dict[str, str] | None = None):
        self.kind = kind
        self.group = group
        self._targets: dict[str, str | T] = dict(builtins or {})
        self._scanned = group is None

    def register(self, name: str, target: str | T | None = None) -> Any:
        """Register ``target`` (an object or a lazy ``"module:attr"``) under ``name``; usable as decorator."""
        if target is None:
            def decorator(obj: T) -> T:
                self.register(name, obj)
                return obj
            return decorator
        self._scan()
        if name in self._targets and self._targets[name] is not target:
            raise RegistryError(f"{self.kind} {name!r} is already registered ({self._targets[name]!r})")
        self._targets[name] = target
        return target

    def get(self, name: str) -> T:
        self._scan()
        if name not in self._targets:
            hint = difflib.get_close_matches(name, self._targets, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            known = ", ".join(sorted(self._targets)) or "(none)"
            raise RegistryError(f"unknown {self.kind} {name!r}{suggestion} Known: {known}")
        target = self._targets[name]
        if isinstance(target, str):
            target = _import(target)
            self._targets[name] = target
        return target  # type: ignore[return-value]

    def names(self) -> list[str]:
        self._scan()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        self._scan()
        return name in self._targets

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for ep in entry_points(group=self.group):
            existing = self._targets.get(ep.name)
            if existing is not None and existing != ep.value:
                raise RegistryError(
                    f"{self.kind} {ep.name!r} from entry point {ep.value!r} collides with {existing!r}"
                )
            self._targets[ep.name] = ep.value


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


Factory = Callable[..., Any]

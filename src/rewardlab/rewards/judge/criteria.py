"""Criteria files for rubric judging: what each criterion asks, its weight, its answers worst to best.

A file is YAML or JSON: a list of criteria, or ``{"criteria": [...]}``. Each criterion has ``name``,
``text``, ``weight`` (>= 0, default 1; the weights must not all be 0) and ``choices`` (>= 2 distinct
answers ordered worst to best, default ``["no", "yes"]``): a criterion's score is the index of the answer
over ``len(choices) - 1``, and the value is the weighted mean (the verifiers rubric judge's rule). A bad
file is an error naming the file, the criterion and the field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_CRITERIA = 64


@dataclass(frozen=True)
class Criterion:
    name: str
    text: str
    weight: float = 1.0
    choices: tuple[str, ...] = ("no", "yes")

    def render(self) -> str:
        return f"- {self.name}: {self.text} (answer one of, worst to best: {', '.join(self.choices)})"


class CriteriaError(ValueError):
    """A criteria file is malformed; the message names the file, the criterion and the field."""


def load_criteria(path: str | Path) -> tuple[Criterion, ...]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CriteriaError(f"{path}: cannot read criteria file: {exc}") from None
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 -- any parse error becomes one located message
        raise CriteriaError(f"{path}: not valid {'YAML' if path.suffix.lower() in {'.yaml', '.yml'} else 'JSON'}: "
                            f"{exc}") from None
    return parse_criteria(data, str(path))


def parse_criteria(data: Any, where: str = "criteria") -> tuple[Criterion, ...]:
    items = data.get("criteria") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise CriteriaError(f"{where}: expected a non-empty list of criteria (or {{'criteria': [...]}})")
    if len(items) > MAX_CRITERIA:
        raise CriteriaError(f"{where}: {len(items)} criteria; at most {MAX_CRITERIA}")
    out = [_criterion(item, f"{where}: criterion {i}") for i, item in enumerate(items)]
    names = [c.name for c in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CriteriaError(f"{where}: duplicate criterion names {duplicates}")
    if sum(c.weight for c in out) <= 0:
        raise CriteriaError(f"{where}: field 'weight': no criterion has a positive weight")
    return tuple(out)


def _criterion(item: Any, where: str) -> Criterion:
    if not isinstance(item, dict):
        raise CriteriaError(f"{where}: expected an object with name, text, weight, choices")
    unknown = sorted(set(item) - {"name", "text", "weight", "choices"})
    if unknown:
        raise CriteriaError(f"{where}: unknown field(s) {unknown}")
    name, text = item.get("name"), item.get("text")
    for field_name, value in (("name", name), ("text", text)):
        if not isinstance(value, str) or not value.strip():
            raise CriteriaError(f"{where}: field {field_name!r}: expected a non-empty string")
    where = f"{where} ({name!r})"
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise CriteriaError(f"{where}: field 'weight': expected a finite number >= 0, got {weight!r}")
    choices = item.get("choices", ["no", "yes"])
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        raise CriteriaError(f"{where}: field 'choices': expected at least two non-empty strings, worst to best")
    if len({c.casefold() for c in choices}) != len(choices):
        raise CriteriaError(f"{where}: field 'choices': duplicate options {choices}")
    return Criterion(name.strip(), text.strip(), float(weight), tuple(choices))

"""Final answers for voting: pull one out of each candidate, or abstain.

Voting groups candidates by the answer they state, so two spellings of one value must share a key and a
candidate that states nothing must not vote at all (it abstains, and the count of abstentions is reported:
a silent fallback to "the last number" would let half-written solutions vote).

Extractors (``--answer``):

- ``world``: the embedded world's ``The answer is N`` (`rewardlab.synth.world.extract_answer`);
- ``math``: the math rule's markers (``\\boxed{}``, ``####``, an answer phrase, an ``<answer>`` tag),
  normalised (`rewardlab.rewards.rules.math_answer.normalize`) and plain numbers made exact, so ``0.5``,
  ``1/2`` and ``\\frac{1}{2}`` vote together; the rule's last-number fallback is NOT used;
- ``regex:PATTERN``: the last match of PATTERN (its first group when it has one), stripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

Extractor = Callable[[str], str | None]


def _world(text: str) -> str | None:
    from rewardlab.synth.world import extract_answer

    value = extract_answer(text)
    return None if value is None else str(value)


def _math(text: str) -> str | None:
    from rewardlab.rewards.rules.math_answer import extract_answer, normalize

    found = extract_answer(text)
    if found is None or found.method == "last number":
        return None
    key = normalize(found.text)
    if not key:
        return None
    core = key.replace(" ", "")
    frac = re.fullmatch(r"(-?)\\frac\{(-?\d+)\}\{(\d+)\}", core)
    try:
        if frac:
            value = Fraction(int(frac.group(2)), int(frac.group(3))) * (-1 if frac.group(1) else 1)
            return str(value)
        if re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)(/\d+)?", core):
            return str(Fraction(core))
    except (ValueError, ZeroDivisionError):
        return key
    return key


def regex_extractor(pattern: str) -> Extractor:
    compiled = re.compile(pattern)

    def extract(text: str) -> str | None:
        matches = list(compiled.finditer(text))
        if not matches:
            return None
        last = matches[-1]
        value = (last.group(1) if compiled.groups else last.group(0)) or ""
        return value.strip() or None

    return extract


def get_extractor(spec: str | Extractor) -> Extractor:
    """``world``, ``math`` or ``regex:PATTERN`` (or a callable text -> answer or None)."""
    if callable(spec):
        return spec
    if spec == "world":
        return _world
    if spec == "math":
        return _math
    if spec.startswith("regex:"):
        try:
            return regex_extractor(spec[len("regex:"):])
        except re.error as exc:
            raise ValueError(f"answer extractor {spec!r}: bad regular expression: {exc}") from exc
    raise ValueError(f"unknown answer extractor {spec!r}; expected world, math or regex:PATTERN")


@dataclass
class ExtractedAnswers:
    """Per group, per candidate: the answer key, or None where the candidate abstains."""

    answers: list[list[str | None]]

    @property
    def abstained(self) -> int:
        return sum(a is None for group in self.answers for a in group)

    @property
    def candidates(self) -> int:
        return sum(len(group) for group in self.answers)


def extract_all(groups: Sequence[Sequence[str]], extractor: str | Extractor) -> ExtractedAnswers:
    fn = get_extractor(extractor)
    return ExtractedAnswers([[fn(text) for text in group] for group in groups])


def answer_ids(answers: Sequence[Sequence[object | None]]) -> np.ndarray:
    """Per-group integer ids of the answers, shape (groups, M); -1 where a candidate states no answer.

    Ids are local to a group: equal answers in one group share an id.
    """
    rows = []
    for group in answers:
        seen: dict[object, int] = {}
        rows.append([-1 if a is None else seen.setdefault(a, len(seen)) for a in group])
    return np.asarray(rows, dtype=np.int64)

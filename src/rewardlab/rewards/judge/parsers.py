"""Strict, bounded parsers for judge outputs. Judge outputs are hostile input.

A policy being trained against a judge learns to steer what the judge writes, so parsers read only what
the protocol defines and reject everything else: no ``eval``, inputs capped at `MAX_CHARS`, regular
expressions without nested quantifiers (linear time), JSON decoded with the standard library under a
bounded number of attempts. Ambiguity is a failure, never a guess: an output naming both verdicts is
invalid (reward-bench's parser would take the first one it checks, which biases towards ``A``).
Reasoning in ``<think>...</think>`` is removed before parsing, so a verdict inside the thinking never
counts. Every parser returns a `Parsed`, with ``error`` saying why an output was rejected.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_CHARS = 64_000
MAX_JSON_ATTEMPTS = 64
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANSWER = re.compile(r"<answer>([^<]{0,200})</answer>", re.IGNORECASE)
_TRAILING_INT = re.compile(r"(?<![\d.])(\d{1,3})\s*$")
_RESULT_INT = re.compile(r"^\s*\(?\s*(\d{1,2})\s*\)?\s*[.!]?\s*$")


@dataclass
class Parsed:
    """One judge output read: a ``label`` (``A``, ``YES``, ``7``...) and per-slot ``values``, or an error.

    ``components`` carries per-criterion scores (rubric) and ``reasons`` their stated reasons.
    """

    label: str | None = None
    values: list[float] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def fail(cls, reason: str) -> Parsed:
        return cls(error=reason)


def strip_reasoning(text: str) -> tuple[str, str | None]:
    """Remove ``<think>...</think>`` blocks (nested or unclosed ones too); returns (answer part, error).

    An unclosed ``<think>`` hides everything after it: the judge never finished thinking, so there is no
    answer (error). A stray ``</think>`` drops everything before it (some chat templates open the think
    block in the prompt, so the output starts inside it).
    """
    text = text[:MAX_CHARS]
    close = text.rfind(_THINK_CLOSE)
    if close >= 0 and text.find(_THINK_OPEN) < 0:
        return text[close + len(_THINK_CLOSE):], None
    out, depth, i = [], 0, 0
    while i < len(text):
        if text.startswith(_THINK_OPEN, i):
            depth, i = depth + 1, i + len(_THINK_OPEN)
        elif text.startswith(_THINK_CLOSE, i):
            depth, i = max(0, depth - 1), i + len(_THINK_CLOSE)
        else:
            if depth == 0:
                out.append(text[i])
            i += 1
    if depth > 0:
        return "".join(out), "unclosed <think> block: the judge gave no answer"
    return "".join(out), None


def bracket_verdict(text: str, labels: Sequence[str]) -> Parsed:
    """``[[A]]``-style verdicts (MT-Bench pair-v2, RewardBench 2): exactly one distinct label may appear."""
    answer, error = strip_reasoning(text)
    if error:
        return Parsed.fail(error)
    found = [label for label in labels if f"[[{label}]]" in answer]
    if len(found) != 1:
        return Parsed.fail("no [[verdict]] in the output" if not found else f"several verdicts: {found}")
    return _one_hot(found[0], labels)


def answer_tag_verdict(text: str, labels: Sequence[str], brackets: bool) -> Parsed:
    """RM-R1 (``<answer>[[A]]</answer>``, ``brackets``) or Think-RM (``<answer>A</answer>``): the last answer
    block decides; a block naming several labels, or RM-R1 output with verdicts for both, is invalid."""
    answer, error = strip_reasoning(text)
    if error:
        return Parsed.fail(error)
    blocks = _ANSWER.findall(answer)
    if not blocks:
        return Parsed.fail("no <answer>...</answer> block")
    if brackets:
        named = [label for label in labels if f"[[{label}]]" in answer]
        if len(named) > 1:
            return Parsed.fail(f"several verdicts: {named}")
    content = blocks[-1].strip()
    for label in labels:
        if content == (f"[[{label}]]" if brackets else label):
            return _one_hot(label, labels)
    return Parsed.fail(f"answer block {content[:40]!r} is not one of {list(labels)}")


def yes_no(text: str) -> Parsed:
    """``YES`` or ``NO`` (any case, optional bold or a trailing full stop), nothing else; value 1 or 0."""
    answer, error = strip_reasoning(text)
    if error:
        return Parsed.fail(error)
    word = answer.strip().strip("*").strip().rstrip(".!").strip("*'\" ").upper()
    if word in {"YES", "NO"}:
        return Parsed(label=word, values=[1.0 if word == "YES" else 0.0])
    return Parsed.fail(f"expected YES or NO, got {answer.strip()[:40]!r}")


def trailing_rating(text: str, low: int, high: int) -> Parsed:
    """RewardBench 2 ratings: the integer the output ends with, in [low, high]; value scaled to [0, 1]."""
    answer, error = strip_reasoning(text)
    if error:
        return Parsed.fail(error)
    match = _TRAILING_INT.search(answer.strip()[-200:])
    if not match:
        return Parsed.fail("the output does not end with a rating")
    return _rating(int(match.group(1)), low, high)


def result_rating(text: str, low: int, high: int) -> Parsed:
    """Prometheus: ``... [RESULT] n``; the text after the last ``[RESULT]`` must be the integer alone."""
    answer, error = strip_reasoning(text)
    if error:
        return Parsed.fail(error)
    marker = answer.rfind("[RESULT]")
    if marker < 0:
        return Parsed.fail("no [RESULT] marker")
    match = _RESULT_INT.match(answer[marker + len("[RESULT]"):][:50])
    if not match:
        return Parsed.fail(f"[RESULT] is not followed by an integer alone: {answer[marker:marker + 40]!r}")
    return _rating(int(match.group(1)), low, high)


def _rating(value: int, low: int, high: int) -> Parsed:
    if not low <= value <= high:
        return Parsed.fail(f"rating {value} outside [{low}, {high}]")
    return Parsed(label=str(value), values=[(value - low) / (high - low)])


def _one_hot(label: str, labels: Sequence[str]) -> Parsed:
    return Parsed(label=label, values=[1.0 if x == label else 0.0 for x in labels])


def json_object(text: str, required_key: str) -> tuple[dict[str, Any] | None, str | None]:
    """The last JSON object in the output that has ``required_key`` (code fences and prose around it are
    fine). At most `MAX_JSON_ATTEMPTS` decode attempts, from the end, so hostile input stays cheap."""
    answer, error = strip_reasoning(text)
    if error:
        return None, error
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(answer) if ch == "{"]
    for start in reversed(starts[-MAX_JSON_ATTEMPTS:]):
        try:
            value, _ = decoder.raw_decode(answer, start)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(value, dict) and required_key in value:
            return value, None
    return None, f"no JSON object with {required_key!r}"


def criteria_verdicts(text: str, criteria: Sequence[Any]) -> Parsed:
    """Rubric judging: ``{"verdicts": [{"name", "reason", "verdict"}, ...]}`` with exactly one entry per
    criterion and each verdict one of its choices (case-insensitive); criterion score = index / (len - 1),
    value = weighted mean (the verifiers rubric judge's rule)."""
    obj, error = json_object(text, "verdicts")
    if error:
        return Parsed.fail(error)
    entries = obj["verdicts"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return Parsed.fail("'verdicts' is not a list of objects")
    by_name = {c.name: c for c in criteria}
    names = [str(e.get("name")) for e in entries]
    if sorted(names) != sorted(by_name):
        return Parsed.fail(f"verdicts name {sorted(names)[:10]}, expected {sorted(by_name)}")
    scores, reasons = {}, {}
    for entry in entries:
        criterion = by_name[str(entry["name"])]
        verdict = str(entry.get("verdict", ""))
        lowered = [c.casefold() for c in criterion.choices]
        if verdict.casefold() not in lowered:
            return Parsed.fail(f"{criterion.name!r}: verdict {verdict[:40]!r} is not one of {list(criterion.choices)}")
        scores[criterion.name] = lowered.index(verdict.casefold()) / (len(criterion.choices) - 1)
        reasons[criterion.name] = str(entry.get("reason", ""))[:500]
    total = sum(c.weight for c in criteria)
    value = sum(c.weight * scores[c.name] for c in criteria) / total
    return Parsed(label=None, values=[value], components=scores, reasons=reasons)


def group_scores(text: str, ids: Sequence[str]) -> Parsed:
    """Group (RULER-style) judging: ``{"scores": [{"id", "score", ...}]}``, one entry per id, each score a
    finite number in [0, 1]; anything else (a score of 1.2, a missing id, bad JSON) is a failure."""
    obj, error = json_object(text, "scores")
    if error:
        return Parsed.fail(error)
    entries = obj["scores"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return Parsed.fail("'scores' is not a list of objects")
    found: dict[str, float] = {}
    for entry in entries:
        key, score = str(entry.get("id", "")), entry.get("score")
        if key not in ids or key in found:
            return Parsed.fail(f"unexpected or repeated id {key[:20]!r}")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            return Parsed.fail(f"score for {key!r} is not a number")
        if not 0.0 <= score <= 1.0:
            return Parsed.fail(f"score {score} for {key!r} is outside [0, 1]")
        found[key] = float(score)
    if len(found) != len(ids):
        return Parsed.fail(f"scores for {len(found)} of {len(ids)} responses")
    return Parsed(values=[found[i] for i in ids])

"""The record types every layer speaks: what is scored (`Sample`), what comes back (`Score`), and the
three dataset shapes rewards are trained and evaluated on (pairs, best-of-N groups, step-labelled
solutions).

They are plain dataclasses on purpose: cheap to build in hot loops, trivially JSON-serialisable with
`dataclasses.asdict`, and free of any framework dependency so every layer can import them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]
"""One chat turn: ``{"role": "user" | "assistant" | "system", "content": str}``."""

Prompt = str | list[Message]
"""A prompt is either plain text or a chat conversation that ends before the response."""


@dataclass(frozen=True)
class Sample:
    """One thing to score: a response to a prompt.

    ``steps`` holds the response split into reasoning steps (process rewards read it); ``reference`` is a
    gold answer for verifiable rules; ``metadata`` travels through untouched (ids, subsets, file origin).
    """

    prompt: Prompt
    response: str
    steps: tuple[str, ...] | None = None
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def prompt_text(self) -> str:
        """The prompt flattened to text, for rewards that cannot read chat messages."""
        return prompt_to_text(self.prompt)


@dataclass
class Score:
    """What a reward says about one sample.

    A reward that cannot score an item sets ``error`` (with a reason) and ``value`` to NaN: failures are
    values with reasons, never ``-1`` or a magic string, and downstream metrics count them as failures.
    """

    value: float
    steps: list[float] | None = None
    components: dict[str, float] = field(default_factory=dict)
    rationale: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """No error and a finite value: NaN and ±inf are failures (an inf reward would win every comparison
        and turn means, margins and calibration into NaN)."""
        return self.error is None and math.isfinite(self.value)

    @property
    def failure_reason(self) -> str | None:
        """Why this score is not ``ok`` (``None`` when it is): the error, else what is wrong with the value."""
        if self.ok:
            return None
        return self.error or ("NaN score" if self.value != self.value else f"non-finite score {self.value}")

    @classmethod
    def failure(cls, reason: str) -> Score:
        return cls(value=float("nan"), error=reason)


@dataclass(frozen=True)
class PairRecord:
    """A preference pair: ``chosen`` is preferred to ``rejected`` for the same ``prompt``.

    ``source`` names where the row came from (``file:line``) so every later error can point back at it.
    """

    prompt: Prompt
    chosen: str
    rejected: str
    subset: str = "default"
    margin: float | None = None
    id: str | None = None
    source: str | None = None

    def samples(self) -> tuple[Sample, Sample]:
        meta = {"id": self.id, "subset": self.subset, "source": self.source}
        return Sample(self.prompt, self.chosen, metadata=meta), Sample(self.prompt, self.rejected, metadata=meta)


@dataclass(frozen=True)
class CandidatesRecord:
    """A best-of-N group: several responses to one prompt with gold ``correct`` flags or ``scores``.

    RewardBench 2 convention: one chosen (``correct[0] is True``) and three rejected.
    """

    prompt: Prompt
    responses: tuple[str, ...]
    correct: tuple[bool, ...] | None = None
    scores: tuple[float, ...] | None = None
    subset: str = "default"
    reference: str | None = None
    id: str | None = None
    source: str | None = None

    def samples(self) -> list[Sample]:
        meta = {"id": self.id, "subset": self.subset, "source": self.source}
        return [Sample(self.prompt, r, reference=self.reference, metadata=meta) for r in self.responses]


@dataclass(frozen=True)
class StepRecord:
    """A solution split into steps with step labels.

    ``labels`` are per-step correctness in [0, 1] (hard 0/1 or soft Monte-Carlo estimates); ``first_error``
    is the ProcessBench label: the 0-based index of the earliest wrong step, or -1 when all are correct.
    Either may be given; `step_labels()` derives per-step labels from ``first_error`` (steps after the first
    error are unlabelled: ``None``).
    """

    prompt: Prompt
    steps: tuple[str, ...]
    labels: tuple[float, ...] | None = None
    first_error: int | None = None
    final_correct: bool | None = None
    subset: str = "default"
    reference: str | None = None
    id: str | None = None
    source: str | None = None

    def sample(self) -> Sample:
        meta = {"id": self.id, "subset": self.subset, "source": self.source}
        return Sample(self.prompt, "\n\n".join(self.steps), steps=self.steps, reference=self.reference,
                      metadata=meta)

    def step_labels(self) -> list[float | None]:
        if self.labels is not None:
            return list(self.labels)
        if self.first_error is None:
            raise ValueError(f"{self.source or 'step record'}: neither labels nor first_error is set")
        if self.first_error < 0:
            return [1.0] * len(self.steps)
        return [1.0] * self.first_error + [0.0] + [None] * (len(self.steps) - self.first_error - 1)


def prompt_to_text(prompt: Prompt) -> str:
    """Render chat messages in the hh-rlhf transcript style; plain text passes through unchanged."""
    if isinstance(prompt, str):
        return prompt
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    turns = [f"\n\n{names.get(m['role'], m['role'].title())}: {m['content']}" for m in prompt]
    return "".join(turns) + "\n\nAssistant:"

"""Judge protocols: how a judging question is asked (the published prompt) and how the answer is read.

A protocol renders chat messages for a question and the answers shown in its slots, parses a generated
output into per-slot values (`parsers.Parsed`), and, for logprob mode, names its verdict tokens, the
prefix that puts the model at the answer position, and how verdict probabilities become values.

| name | slots | output | value per slot |
|---|---|---|---|
| ``pairwise`` | 2 | ``[[A]]`` / ``[[B]]`` (MT-Bench pair-v2 as RewardBench v1 runs it) | 1 for the winner |
| ``four_way`` | 4 | ``[[A]]``..``[[D]]`` (RewardBench 2) | 1 for the winner |
| ``rating`` | 1 | trailing integer 1-10 (RewardBench 2 ratings; ``variant=ties`` for its Ties subset) | (r - 1) / 9 |
| ``prometheus`` | 1 | ``[RESULT] n``, 1-5 with a rubric (Prometheus absolute grading) | (r - 1) / 4 |
| ``correctness`` | 1 | ``YES`` / ``NO`` against a reference (One Token to Fool's verifier) | 1 / 0 |
| ``rubric`` | 1 | JSON verdicts per criterion, reason first (verifiers' rubric judge) | weighted mean |
| ``group`` | N | JSON scores in [0, 1] per response id (RULER-style) | the score |
| ``genrm`` | 1 | ``Yes`` / ``No`` (``variant=critique``: a critique first); `rewardlab.train.genrm` | P(Yes) |
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab.registry import Registry
from rewardlab.rewards.judge import parsers
from rewardlab.rewards.judge import prompts as P
from rewardlab.rewards.judge.criteria import Criterion
from rewardlab.types import Message, Prompt, prompt_to_text

FORMATS = ("brackets", "rm_r1", "think_rm")
LETTERS = "ABCD"


def question_text(prompt: Prompt) -> str:
    """The user's question as a judge sees it: a single user turn's text, else the whole transcript."""
    if isinstance(prompt, str):
        return prompt
    users = [m for m in prompt if m.get("role") == "user"]
    if len(prompt) == 1 and users:
        return str(users[0].get("content", ""))
    return prompt_to_text(prompt).removesuffix("\n\nAssistant:").strip()


def fence(text: str) -> str:
    """Wrap untrusted text in a code fence longer than any backtick run inside it (it cannot close it)."""
    longest, run = 2, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    bar = "`" * (longest + 1)
    return f"{bar}\n{text}\n{bar}"


@dataclass(frozen=True)
class Protocol:
    """Base: subclasses set the class attributes and implement `render` and `parse`."""

    name: str = ""
    slots: int | None = 1
    labels: tuple[str, ...] = ()
    low: int = 0
    high: int = 1

    @property
    def kind(self) -> str:
        return "pairwise" if self.slots == 2 else "pointwise" if self.slots == 1 else "listwise"

    def answer_prefix(self) -> str:
        """What logprob mode appends after the generation prompt so the next token is the verdict."""
        return ""

    def render(self, question: str, answers: Sequence[str], reference: str | None = None) -> list[Message]:
        raise NotImplementedError

    def parse(self, text: str, n: int) -> parsers.Parsed:
        raise NotImplementedError

    def from_probs(self, probs: dict[str, float]) -> parsers.Parsed:
        """Normalised verdict probabilities -> values: one per slot for choice protocols, the expected
        score for rating scales."""
        if not self.labels:
            raise ValueError(f"protocol {self.name!r} has no logprob mode")
        if self.slots in (2, 4):
            return parsers.Parsed(values=[probs[label] for label in self.labels])
        expected = sum(int(label) * p for label, p in probs.items())
        return parsers.Parsed(values=[(expected - self.low) / (self.high - self.low)])

    def tie(self, n: int) -> list[float]:
        """The neutral verdict the ``tie`` failure policy gives: 1/4 each for four-way (RewardBench 2's
        0.25), 0.5 otherwise (a pair's coin flip, a scale's midpoint)."""
        return [0.25] * 4 if self.slots == 4 else [0.5] * n

    def prompt_sha256(self) -> str:
        probe = self.render("{question}", ["{a}", "{b}", "{c}", "{d}"][: self.slots or 2], "{reference}")
        return hashlib.sha256(repr(probe).encode()).hexdigest()


@dataclass(frozen=True)
class Pairwise(Protocol):
    name: str = "pairwise"
    slots: int | None = 2
    labels: tuple[str, ...] = ("A", "B")
    format: str = "brackets"

    def answer_prefix(self) -> str:
        return {"brackets": "[[", "rm_r1": "<answer>[[", "think_rm": "<answer>"}[self.format]

    def render(self, question, answers, reference=None):
        system = P.PAIR_V2_SYSTEM + {"brackets": "", "rm_r1": P.ANSWER_TAG_INSTRUCTION,
                                     "think_rm": P.THINK_RM_INSTRUCTION}[self.format]
        user = P.fill(P.PAIR_V2_USER, {"question": question, "answer_a": answers[0], "answer_b": answers[1]})
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def parse(self, text, n):
        if self.format == "brackets":
            return parsers.bracket_verdict(text, self.labels)
        return parsers.answer_tag_verdict(text, self.labels, brackets=self.format == "rm_r1")


@dataclass(frozen=True)
class FourWay(Protocol):
    name: str = "four_way"
    slots: int | None = 4
    labels: tuple[str, ...] = tuple(LETTERS)

    def answer_prefix(self) -> str:
        return "[["

    def render(self, question, answers, reference=None):
        fields = {"question": question, **{f"answer_{c.lower()}": a for c, a in zip(LETTERS, answers)}}
        return [{"role": "system", "content": P.FOUR_WAY_SYSTEM},
                {"role": "user", "content": P.fill(P.FOUR_WAY_USER, fields)}]

    def parse(self, text, n):
        return parsers.bracket_verdict(text, self.labels)


@dataclass(frozen=True)
class Rating(Protocol):
    name: str = "rating"
    labels: tuple[str, ...] = tuple(str(i) for i in range(1, 11))
    low: int = 1
    high: int = 10
    variant: str = "default"

    def render(self, question, answers, reference=None):
        template = P.RATING_TIES_USER if self.variant == "ties" else P.RATING_USER
        return [{"role": "user", "content": P.fill(template, {"question": question, "answer": answers[0]})}]

    def parse(self, text, n):
        return parsers.trailing_rating(text, self.low, self.high)


@dataclass(frozen=True)
class Prometheus(Protocol):
    name: str = "prometheus"
    labels: tuple[str, ...] = ("1", "2", "3", "4", "5")
    low: int = 1
    high: int = 5
    rubric: str = P.PROMETHEUS_DEFAULT_RUBRIC

    def answer_prefix(self) -> str:
        return "Feedback: [RESULT] "

    def render(self, question, answers, reference=None):
        user = P.fill(P.PROMETHEUS_USER, {"question": question, "answer": answers[0], "rubric": self.rubric})
        return [{"role": "system", "content": P.PROMETHEUS_SYSTEM}, {"role": "user", "content": user}]

    def parse(self, text, n):
        return parsers.result_rating(text, self.low, self.high)


@dataclass(frozen=True)
class Correctness(Protocol):
    name: str = "correctness"
    labels: tuple[str, ...] = ("YES", "NO")
    needs_reference: bool = True

    def render(self, question, answers, reference=None):
        fields = {"question": question, "answer": answers[0], "reference": reference or ""}
        return [{"role": "user", "content": P.fill(P.CORRECTNESS_USER, fields)}]

    def parse(self, text, n):
        return parsers.yes_no(text)

    def from_probs(self, probs):
        return parsers.Parsed(values=[probs["YES"]])


GENRM_VARIANTS = ("direct", "critique")


@dataclass(frozen=True)
class GenRM(Protocol):
    """A trained generative verifier (Generative Verifiers, Zhang et al. 2024; RM-R1 stage one, GenPRM):
    the question, the response, then ``Is the answer correct (Yes/No)?``; the value is P(Yes) in logprob
    mode. No reference: a verifier judges a solution on its own, as best-of-N needs. ``variant=critique``
    asks for a critique first (``<think>critique</think>`` then the verdict, Think-RM style), so it is
    read in generate mode only. `rewardlab.train.genrm` trains on exactly this rendering."""

    name: str = "genrm"
    labels: tuple[str, ...] = ("Yes", "No")
    variant: str = "direct"

    def __post_init__(self) -> None:
        if self.variant not in GENRM_VARIANTS:
            raise ValueError(f"genrm variant must be one of {GENRM_VARIANTS}, got {self.variant!r}")
        if self.variant == "critique":  # the verdict follows a sampled critique: no one-forward reading
            object.__setattr__(self, "labels", ())

    def render(self, question, answers, reference=None):
        ask = P.GENRM_CRITIQUE_QUESTION if self.variant == "critique" else P.GENRM_QUESTION
        return [{"role": "user", "content": f"{question.rstrip()}\n{answers[0].strip()}\n\n{ask}"}]

    def parse(self, text, n):
        return parsers.yes_no(text)

    def from_probs(self, probs):
        return parsers.Parsed(values=[probs["Yes"]])


@dataclass(frozen=True)
class Rubric(Protocol):
    name: str = "rubric"
    criteria: tuple[Criterion, ...] = field(default_factory=tuple)

    def render(self, question, answers, reference=None):
        ref = f"Reference answer:\n{fence(reference)}\n\n" if reference else ""
        fields = {"question": fence(question), "answer": fence(answers[0]), "reference": ref,
                  "criteria": "\n".join(c.render() for c in self.criteria)}
        return [{"role": "user", "content": P.fill(P.RUBRIC_USER, fields)}]

    def parse(self, text, n):
        return parsers.criteria_verdicts(text, self.criteria)


@dataclass(frozen=True)
class Group(Protocol):
    name: str = "group"
    slots: int | None = None
    rubric: str = P.GROUP_DEFAULT_RUBRIC

    def render(self, question, answers, reference=None):
        body = "\n\n".join(f'<response id="{i + 1}">\n{a}\n</response>' for i, a in enumerate(answers))
        user = f"<prompt>\n{question}\n</prompt>\n\nResponses:\n\n{body}"
        return [{"role": "system", "content": P.fill(P.GROUP_SYSTEM, {"rubric": self.rubric})},
                {"role": "user", "content": user}]

    def parse(self, text, n):
        return parsers.group_scores(text, [str(i + 1) for i in range(n)])


PROTOCOLS: Registry = Registry("judge protocol", group="rewardlab.judge_protocols")
"""Protocol classes by name; built-ins register through entry points like plugins do (a plugin adds, e.g., a
GenRM verifier prompt as one `Protocol` subclass and one entry-point line)."""


def make_protocol(name: str, **options: Any) -> Protocol:
    """A protocol by name with its options (``format``, ``variant``, ``rubric`` text, ``criteria``)."""
    cls = PROTOCOLS.get(name)
    accepted = set(cls.__dataclass_fields__) - {"name", "slots", "labels", "low", "high"}
    extra = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(extra) - accepted)
    if unknown:
        raise ValueError(f"protocol {name!r} takes no option(s) {unknown}")
    if "format" in extra and extra["format"] not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {extra['format']!r}")
    if name == "rubric" and not extra.get("criteria"):
        raise ValueError("protocol rubric needs criteria=PATH (a YAML or JSON criteria file)")
    return cls(**extra)

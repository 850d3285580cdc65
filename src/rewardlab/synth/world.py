"""A seeded world of multi-step arithmetic word problems with exact gold solutions.

Every problem is a small computation: a list of `Op` steps whose operands are numbers from the question or
results of earlier steps. Because the computation is explicit, the world knows the value of every step,
so corrupted solutions (`rewardlab.synth.corrupt`) come with an exact first wrong step and any generated
solution can be checked exactly (`is_correct`, `first_error`).

Text conventions (other modules and helpers rely on them):

- prompt: ``"Question: <question>\\nAnswer:\\n"``;
- solution: one step per line, ``"<phrase>: <a> <op> <b> = <c>."``, the last step ending with
  ``"The answer is <N>."``.

Problem ``i`` of seed ``s`` depends only on ``(s, i, difficulty)``, so ``generate_problems(100, s)[:10]``
equals ``generate_problems(10, s)``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

WORLD_VERSION = 1
"""Bumped whenever generated text changes, so cached policies and data are rebuilt."""

DIFFICULTIES: dict[str, dict[str, int]] = {
    "easy": {"min_steps": 2, "max_steps": 3, "max_number": 20, "max_value": 200},
    "medium": {"min_steps": 4, "max_steps": 5, "max_number": 30, "max_value": 500},
    "hard": {"min_steps": 6, "max_steps": 8, "max_number": 50, "max_value": 999},
}
"""Difficulty = number of steps and size of the numbers (question literals <= max_number, every
intermediate value in [0, max_value])."""

SYMBOLS = ("+", "-", "*", "/")
ANSWER_RE = re.compile(r"The answer is\s*(-?\d+)")
EQUATION_RE = re.compile(r"(-?\d+)\s*([-+*/])\s*(-?\d+)\s*=\s*(-?\d+)")


@dataclass(frozen=True)
class Ref:
    """An operand that is the result of an earlier step (0-based index)."""

    step: int


Operand = int | Ref


@dataclass(frozen=True)
class Op:
    """One solution step: ``phrase: left sym right = result``."""

    phrase: str
    left: Operand
    sym: str
    right: Operand


@dataclass(frozen=True)
class Problem:
    """A word problem with its gold computation.

    ``steps`` are the gold solution lines; ``answer`` the final value; ``ops`` the structured computation
    the steps were rendered from (corruptions and step checks read it).
    """

    id: str
    question: str
    steps: tuple[str, ...]
    answer: int
    difficulty: str
    template: str
    ops: tuple[Op, ...] = field(repr=False, compare=False)

    @property
    def prompt(self) -> str:
        return format_prompt(self.question)

    @property
    def solution(self) -> str:
        return "\n".join(self.steps)

    def values(self) -> list[int]:
        """The gold result of every step."""
        return evaluate(self.ops)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "prompt": self.prompt, "steps": list(self.steps),
                "answer": self.answer, "difficulty": self.difficulty, "template": self.template}


def format_prompt(question: str) -> str:
    """The policy's prompt for a question; the solution follows it directly."""
    return f"Question: {question}\nAnswer:\n"


def apply(sym: str, a: int, b: int) -> int | None:
    """``a sym b`` in exact integer arithmetic; None when the result is not a non-negative integer."""
    if sym == "+":
        out = a + b
    elif sym == "-":
        out = a - b
    elif sym == "*":
        out = a * b
    elif sym == "/":
        if b == 0 or a % b:
            return None
        out = a // b
    else:
        raise ValueError(f"unknown operator {sym!r}; expected one of {SYMBOLS}")
    return out if out >= 0 else None


def operand_value(operand: Operand, values: Sequence[int]) -> int:
    return values[operand.step] if isinstance(operand, Ref) else operand


def evaluate(ops: Sequence[Op]) -> list[int]:
    """The result of every step; raises ValueError when a step is not a non-negative integer."""
    values: list[int] = []
    for i, op in enumerate(ops):
        out = apply(op.sym, operand_value(op.left, values), operand_value(op.right, values))
        if out is None:
            raise ValueError(f"step {i} ({op}) has no non-negative integer result")
        values.append(out)
    return values


def render_step(phrase: str, a: int, sym: str, b: int, c: int, answer: int | None = None) -> str:
    """One solution line; ``answer`` (the final step only) appends ``The answer is N.``."""
    line = f"{phrase}: {a} {sym} {b} = {c}."
    return line if answer is None else f"{line} The answer is {answer}."


def render_solution(ops: Sequence[Op], values: Sequence[int]) -> tuple[str, ...]:
    lines = []
    for i, op in enumerate(ops):
        last = i == len(ops) - 1
        lines.append(render_step(op.phrase, operand_value(op.left, values), op.sym,
                                 operand_value(op.right, values), values[i], values[i] if last else None))
    return tuple(lines)


def generate_problem(seed: int, index: int, difficulty: str | None = None) -> Problem:
    """Problem ``index`` of ``seed``: a template drawn at random, retried until every value is in range."""
    from rewardlab.synth import templates  # templates build Ops, so they import this module

    rng = random.Random(f"rewardlab-world:{seed}:{index}:{difficulty}")
    level = difficulty or rng.choice(list(DIFFICULTIES))
    if level not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {level!r}; expected one of {', '.join(DIFFICULTIES)} or None")
    limits = DIFFICULTIES[level]
    for _ in range(1000):
        n_steps = rng.randint(limits["min_steps"], limits["max_steps"])
        name = rng.choice(templates.TEMPLATE_NAMES)
        built = templates.build(name, rng, n_steps, limits["max_number"], limits["max_value"])
        if built is None:
            continue
        question, ops = built
        try:
            values = evaluate(ops)
        except ValueError:
            continue
        if len(ops) == n_steps and max(values) <= limits["max_value"] and min(values) > 0:
            return Problem(id=f"s{seed}-{index}", question=question, steps=render_solution(ops, values),
                           answer=values[-1], difficulty=level, template=name, ops=tuple(ops))
    raise RuntimeError(f"could not generate a {level} problem for seed {seed}, index {index}")  # pragma: no cover


def generate_problems(n: int, seed: int, difficulty: str | None = None) -> list[Problem]:
    """``n`` problems of one difficulty (``easy``, ``medium``, ``hard``) or of mixed difficulty (None)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return [generate_problem(seed, i, difficulty) for i in range(n)]


def extract_answer(text: str) -> int | None:
    """The number after the last ``The answer is``; None when the text states no answer."""
    matches = ANSWER_RE.findall(text)
    return int(matches[-1]) if matches else None


def is_correct(text: str, answer: int | str) -> bool:
    """The world's exact verifier: the stated final answer equals the gold answer."""
    stated = extract_answer(text)
    return stated is not None and stated == int(answer)


def split_steps(text: str) -> list[str]:
    """A solution's steps: its non-empty lines, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse_equation(step: str) -> tuple[int, str, int, int] | None:
    """The first ``a op b = c`` of a step, or None."""
    match = EQUATION_RE.search(step)
    if not match:
        return None
    a, sym, b, c = match.groups()
    return int(a), sym, int(b), int(c)


def _canonical(phrase: str, a: int, sym: str, b: int, c: int) -> tuple[str, int, str, int, int]:
    return (phrase, min(a, b), sym, max(a, b), c) if sym in "+*" else (phrase, a, sym, b, c)


def step_phrase(step: str) -> str:
    """The words before a step's colon (``"After eating"``), which name what the step computes."""
    return step.split(":", 1)[0].strip() if ":" in step else ""


def gold_steps(problem: Problem) -> set[tuple[str, int, str, int, int]]:
    """The gold steps as (phrase, a, sym, b, c), operands of ``+`` and ``*`` sorted."""
    values = problem.values()
    return {_canonical(op.phrase, operand_value(op.left, values), op.sym, operand_value(op.right, values), v)
            for op, v in zip(problem.ops, values)}


def first_error(problem: Problem, steps: Sequence[str]) -> int:
    """ProcessBench label of a solution to ``problem``: index of the first wrong step, -1 if none.

    A step is right when its phrase and equation are those of a gold step (operands of ``+`` and ``*`` in
    either order) and any answer it states is the gold answer; the phrase matters because it says what is
    computed (``Sara has: 26 + 2 = 28`` is wrong when Sara's count is not 26 + 2, even if another person's
    is). A step without an equation is wrong unless it only states the right answer. A solution that never
    states an answer is wrong at its last step. Exact for solutions that follow the world's steps in any
    order; a different valid decomposition would count as wrong (the world's policy never learns one).
    """
    if not steps:
        return 0
    gold = gold_steps(problem)
    for i, step in enumerate(steps):
        equation = parse_equation(step)
        stated = extract_answer(step)
        if equation is None and stated is None:
            return i
        if equation is not None and _canonical(step_phrase(step), *equation) not in gold:
            return i
        if stated is not None and stated != problem.answer:
            return i
    return -1 if extract_answer(steps[-1]) is not None else len(steps) - 1


MISTAKES = ("arithmetic", "operand", "phrase", "answer", "format")


def mistake_kind(problem: Problem, steps: Sequence[str]) -> str | None:
    """What the first wrong step (`first_error`) gets wrong; None for a right solution.

    ``arithmetic``: its equation is false; ``phrase``: a gold equation under the wrong name (the numbers of
    one step labelled as another's); ``operand``: a true equation that is not in the gold computation
    (wrong numbers or operation); ``answer``: right equations, wrong stated answer; ``format``: no
    equation, or no stated answer at all.
    """
    index = first_error(problem, steps)
    if index < 0:
        return None
    if index >= len(steps):
        return "format"
    equation = parse_equation(steps[index])
    if equation is None:
        return "format" if extract_answer(steps[index]) is None else "answer"
    a, sym, b, c = equation
    if apply(sym, a, b) != c:
        return "arithmetic"
    gold = gold_steps(problem)
    if _canonical(step_phrase(steps[index]), *equation) in gold:
        return "answer" if extract_answer(steps[index]) is not None else "format"
    if any(g[1:] == _canonical("", *equation)[1:] for g in gold):
        return "phrase"
    return "operand"

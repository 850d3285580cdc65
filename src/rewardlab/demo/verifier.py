"""The demo's step verifier: a process reward model on the policy's own backbone that checks the arithmetic
of every step, trained on equations labelled exactly by the world.

Why this shape (docs/demo.md has the figures). Most of the policy's wrong answers start with a false
equation (it gets most of its additions wrong: ``15 + 6 = 23``), often the same false equation in several
samples, so majority vote picks them; its own token probabilities carry no signal about them (it is
confidently wrong); and a PRM trained on whole solutions with first-error labels learned the base rate of a
wrong step at each position instead of a check. So the verifier is taught one thing, whether each equation
holds, on the text that carries it: a solution's equations with their phrases and the question dropped
(``"Answer:\n6 * 6 = 36.\n18 + 36 = 70.\n"``, about 35 tokens instead of about 110), which lets it see
three times as many equations in the same minutes.

Training rows (`verifier_rows`, step-file rows with one label per step): for each extra world problem its
gold equations and ``copies`` copies in which each equation is slipped with probability 1/2
(`rewardlab.synth.corrupt.slip`: +-1, +-2, +-10 or swapped digits), and the equations of every distinct
sample of the policy on the reward-model problems: its real mistakes, which slips only imitate. A step's
label is whether its own equation holds (a step after a slip that computes correctly from the slipped
number is right: the check is local).

Scoring (`StepVerifier`): the ``process:`` reward over the solution's equations, ``min`` over steps of
P(equation right); a solution with no equation has nothing to check and gets NaN (the report counts it as
a failure; it is never picked and never votes). What it cannot see: a true equation on the wrong numbers
(the question is not read) and a stated answer that differs from the last result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardlab.synth.corrupt import slip
from rewardlab.synth.world import Problem, apply, parse_equation, split_steps

VERIFIER_PROMPT = "Answer:\n"
"""The text before each equation: the line the policy's solutions start after, so the backbone reads an
equation where it is used to reading one."""


def equation_text(line: str) -> str | None:
    """The ``a op b = c.`` of a solution line (its phrase and any stated answer dropped), or None."""
    equation = parse_equation(line)
    if equation is None:
        return None
    a, sym, b, c = equation
    return f"{a} {sym} {b} = {c}."


def equation_holds(text: str) -> bool:
    """Whether an ``a op b = c`` equation is true in the world's exact integer arithmetic."""
    equation = parse_equation(text)
    if equation is None:
        raise ValueError(f"no equation in {text!r}")
    a, sym, b, c = equation
    return apply(sym, a, b) == c


def solution_equations(text: str) -> list[str]:
    """The equations of a solution, in order (lines without one are left out)."""
    return [e for e in map(equation_text, split_steps(text)) if e is not None]


def verifier_row(row_id: str, equations: Sequence[str], origin: str, kind: str) -> dict[str, Any]:
    return {"id": row_id, "prompt": VERIFIER_PROMPT, "steps": list(equations),
            "labels": [int(equation_holds(e)) for e in equations], "origin": origin, "kind": kind}


def verifier_rows(world_problems: Sequence[Problem], candidate_rows: Sequence[dict[str, Any]], seed: int = 0,
                  copies: int = 2) -> list[dict[str, Any]]:
    """Step rows (``id, prompt, steps, labels, origin, kind``), shuffled: per world problem its gold
    equations and ``copies`` randomly slipped copies, then the equations of every distinct sample in
    ``candidate_rows`` (the policy's), each step labelled by `equation_holds`."""
    rng = random.Random(seed)
    found: list[tuple[list[str], str, str]] = []
    for problem in world_problems:
        gold = [e for e in map(equation_text, problem.steps) if e is not None]
        found.append((gold, "world", "gold"))
        for _ in range(copies):
            copy = []
            for equation, value in zip(gold, problem.values()):
                wrong = slip(value, rng) if rng.random() < 0.5 else None
                copy.append(equation if wrong is None else equation.removesuffix(f"= {value}.") + f"= {wrong}.")
            found.append((copy, "world", "gold" if copy == gold else "slipped"))
    for row in candidate_rows:
        for text in sorted(set(row["responses"])):
            equations = solution_equations(text)
            if equations:
                found.append((equations, "policy", "sample"))
    rng.shuffle(found)
    return [verifier_row(f"eq-{i}", eqs, origin, kind) for i, (eqs, origin, kind) in enumerate(found)]


class StepVerifier:
    """A trained verifier as a solution reward: min over the solution's equations of P(equation right)."""

    def __init__(self, model_dir: str | Path):
        from rewardlab.rewards.process import ProcessOptions, ProcessReward

        self.reward = ProcessReward(str(model_dir), ProcessOptions(agg="min"))

    def score_texts(self, texts: Sequence[str]) -> list[float]:
        """One value per solution text; NaN for a solution without any equation."""
        from rewardlab.types import Sample

        equations = [solution_equations(t) for t in texts]
        todo = [i for i, eqs in enumerate(equations) if eqs]
        scores = self.reward.score([Sample(VERIFIER_PROMPT, "\n".join(equations[i]), steps=tuple(equations[i]))
                                    for i in todo])
        out = [float("nan")] * len(texts)
        for i, s in zip(todo, scores):
            out[i] = s.value if s.ok else float("nan")
        return out

    def __call__(self, samples: Sequence[Any]) -> list[float]:
        return self.score_texts([s.response for s in samples])

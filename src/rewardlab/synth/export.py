"""The world as data files in rewardlab's standard formats, with exact labels.

- pairwise (``pairs.jsonl``): ``prompt, chosen, rejected, subset, id``; chosen is the gold solution, rejected
  one corruption, subset the corruption kind.
- best-of-N (``bon.jsonl``): ``prompt, responses, correct, subset, reference, id``; RewardBench 2 layout:
  the gold solution first, then three corruptions with wrong final answers; subset is the difficulty.
- step-labelled (``steps.jsonl``): ``prompt, steps, labels, first_error, label, final_correct, subset,
  kind, reference, id``. ``first_error`` and ``label`` (ProcessBench's name) hold the same 0-based index of
  the first wrong step, -1 for a right solution. ``labels`` are prefix labels: 1 while every step so far is
  right, 0 from the first wrong step on (Math-Shepherd's hard-label reading; the steps after a flaw that
  a later step ignores are still 0, because the solution as written is already wrong there).
- ``problems.jsonl``: the problems themselves (question, prompt, gold steps, answer, difficulty, template).

Rows are deterministic in ``(n, seed)``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardlab.io import write_json, write_jsonl
from rewardlab.synth.corrupt import KINDS, Corruption, corrupt_all, corrupt_solution
from rewardlab.synth.world import Problem, generate_problems

WRONG_ANSWER_KINDS = ("arithmetic", "operand", "skip", "final")


def prefix_labels(n_steps: int, first_error: int) -> list[int]:
    """1 for each step before the first error, 0 from it on; all 1 when ``first_error`` is -1."""
    if first_error < 0:
        return [1] * n_steps
    return [1] * first_error + [0] * (n_steps - first_error)


def _rng(seed: int, what: str, problem: Problem) -> random.Random:
    return random.Random(f"rewardlab-export:{seed}:{what}:{problem.id}")


def pair_rows(problems: Sequence[Problem], seed: int = 0, kinds: Sequence[str] = KINDS) -> list[dict[str, Any]]:
    """One pair per problem and corruption kind that the problem admits."""
    rows = []
    for problem in problems:
        for corruption in corrupt_all(problem, _rng(seed, "pairs", problem), tuple(kinds)):
            rows.append({"id": f"{problem.id}-{corruption.kind}", "prompt": problem.prompt,
                         "chosen": problem.solution, "rejected": corruption.solution, "subset": corruption.kind})
    return rows


def bon_rows(problems: Sequence[Problem], seed: int = 0, n_rejected: int = 3) -> list[dict[str, Any]]:
    """Gold first, then ``n_rejected`` corruptions with distinct wrong answers (kinds drawn at random)."""
    rows = []
    for problem in problems:
        rng = _rng(seed, "bon", problem)
        rejected: list[Corruption] = []
        answers = {problem.answer}
        for _ in range(20 * n_rejected):
            if len(rejected) == n_rejected:
                break
            try:
                corruption = corrupt_solution(problem, rng.choice(WRONG_ANSWER_KINDS), rng)
            except ValueError:
                continue
            if corruption.final_answer not in answers:
                answers.add(corruption.final_answer)
                rejected.append(corruption)
        if len(rejected) < n_rejected:
            raise ValueError(f"{problem.id}: found only {len(rejected)} distinct wrong answers")
        rows.append({"id": problem.id, "prompt": problem.prompt,
                     "responses": [problem.solution] + [c.solution for c in rejected],
                     "correct": [True] + [False] * n_rejected, "subset": problem.difficulty,
                     "reference": str(problem.answer)})
    return rows


def step_row(problem: Problem, steps: Sequence[str], first_error: int, final_correct: bool,
             kind: str, row_id: str) -> dict[str, Any]:
    return {"id": row_id, "prompt": problem.prompt, "steps": list(steps),
            "labels": prefix_labels(len(steps), first_error), "first_error": first_error, "label": first_error,
            "final_correct": final_correct, "subset": problem.difficulty, "kind": kind,
            "reference": str(problem.answer)}


def step_rows(problems: Sequence[Problem], seed: int = 0, kinds: Sequence[str] = KINDS) -> list[dict[str, Any]]:
    """Per problem: the gold solution (``kind`` "correct", label -1) and one corruption per kind."""
    rows = []
    for problem in problems:
        rows.append(step_row(problem, problem.steps, -1, True, "correct", f"{problem.id}-correct"))
        for c in corrupt_all(problem, _rng(seed, "steps", problem), tuple(kinds)):
            rows.append(step_row(problem, c.steps, c.first_error, c.final_correct, c.kind,
                                 f"{problem.id}-{c.kind}"))
    return rows


def write_world(out_dir: str | Path, n: int, seed: int, difficulty: str | None = None) -> dict[str, Any]:
    """Write problems, pairs, best-of-N and step files for ``n`` problems; returns the manifest."""
    out = Path(out_dir)
    problems = generate_problems(n, seed, difficulty)
    files = {
        "problems": write_jsonl(out / "problems.jsonl", (p.to_dict() for p in problems)),
        "pairs": write_jsonl(out / "pairs.jsonl", pair_rows(problems, seed)),
        "bon": write_jsonl(out / "bon.jsonl", bon_rows(problems, seed)),
        "steps": write_jsonl(out / "steps.jsonl", step_rows(problems, seed)),
    }
    manifest = {"generator": "rewardlab.synth", "n": n, "seed": seed, "difficulty": difficulty,
                "rows": files, "files": {name: f"{name}.jsonl" for name in files}}
    write_json(out / "manifest.json", manifest)
    return manifest

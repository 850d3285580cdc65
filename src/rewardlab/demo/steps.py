"""Step-labelled training data for the demo's process reward model, all labelled exactly by the world.

Two sources, both free of any human or Monte-Carlo labelling cost:

- the world: for each of many extra problems, the gold solution and one corruption of every kind
  (`rewardlab.synth.export.step_rows`: arithmetic slip, wrong operand, skipped step, wrong final answer,
  flawed step under a right answer), each with its known first wrong step;
- the policy: every distinct sampled solution of the reward-model problems, labelled by
  `rewardlab.synth.world.first_error` (the first step whose equation is false, or is not a step of the
  gold computation, or that states a wrong answer). These carry the policy's own mistakes, which the
  corruptions only imitate.

Labels are prefix labels (1 until the first wrong step, 0 from it on), so a PRM aggregated by ``min`` is
trained to drop at the first wrong step and stay down.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from rewardlab.synth.export import step_row, step_rows
from rewardlab.synth.world import Problem, first_error, is_correct, mistake_kind, split_steps


def policy_step_rows(problems: Sequence[Problem], candidate_rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One step row per distinct sampled solution; ``kind`` is its first mistake (`world.mistake_kind`) or
    ``correct``. Empty samples (no line at all) have no step to label and are left out, and counted by the
    caller through the difference in row counts."""
    by_id = {p.id: p for p in problems}
    rows = []
    for row in candidate_rows:
        problem = by_id[row["id"]]
        for j, text in enumerate(sorted(set(row["responses"]))):
            steps = split_steps(text)
            if not steps:
                continue
            kind = mistake_kind(problem, steps) or "correct"
            rows.append({**step_row(problem, steps, first_error(problem, steps), is_correct(text, problem.answer),
                                    kind, f"{problem.id}-policy-{j}"), "origin": "policy"})
    return rows


def training_step_rows(world_problems: Sequence[Problem], rm_problems: Sequence[Problem],
                       candidate_rows: Sequence[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """World rows (gold and every corruption kind of ``world_problems``) and policy rows, shuffled."""
    rows = [{**r, "origin": "world"} for r in step_rows(world_problems, seed)]
    rows += policy_step_rows(rm_problems, candidate_rows)
    random.Random(seed).shuffle(rows)
    return rows


def count_by(rows: Sequence[dict[str, Any]], *keys: str) -> dict[str, int]:
    """How many rows have each value of ``keys`` joined by ``/`` (e.g. ``world/arithmetic``)."""
    out: dict[str, int] = {}
    for r in rows:
        name = "/".join(str(r[k]) for k in keys)
        out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))

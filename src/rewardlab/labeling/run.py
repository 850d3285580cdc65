"""Label many solutions with one method and measure the result against known first-error labels.

A `Task` is one solution (prompt, steps, optional gold first error, optional corruption kind) plus the
two functions the algorithms need. `label_tasks` runs a method over all tasks; `agreement` reports how
often the predicted first wrong step equals the gold one (overall, on right / wrong solutions, per kind)
and what it cost (rollouts, prefix probes, verifier calls), the numbers docs/prm.md quotes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.labeling.mc import Rollout, StepLabels, Verify, mc_labels
from rewardlab.labeling.search import binary_search_labels

METHODS = ("mc", "binary")


@dataclass
class Task:
    id: str
    prompt: str
    steps: list[str]
    rollout: Rollout
    verify: Verify
    gold_first_error: int | None = None
    kind: str = "default"
    reference: str | None = None


def label_one(task: Task, method: str, n: int, chunk: int = 1) -> StepLabels:
    if method == "mc":
        return mc_labels(task.steps, task.rollout, task.verify, n)
    if method == "binary":
        return binary_search_labels(task.steps, task.rollout, task.verify, n, chunk)
    raise ValueError(f"unknown labelling method {method!r}; choose one of {', '.join(METHODS)}")


def label_tasks(tasks: Sequence[Task], method: str, n: int, chunk: int = 1,
                on_done: Callable[[int], None] | None = None) -> tuple[list[StepLabels], float]:
    """Labels for every task, in order, and the seconds it took."""
    start = time.perf_counter()
    out = []
    for task in tasks:
        out.append(label_one(task, method, n, chunk))
        if on_done is not None:
            on_done(1)
    return out, time.perf_counter() - start


def agreement(tasks: Sequence[Task], labels: Sequence[StepLabels]) -> dict[str, Any]:
    """Exact first-error agreement with the gold labels, and the cost, overall and per kind."""
    scored = [(t, lab) for t, lab in zip(tasks, labels) if t.gold_first_error is not None]

    def block(items: list[tuple[Task, StepLabels]]) -> dict[str, Any]:
        if not items:
            return {"solutions": 0}
        hits = sum(lab.first_error == t.gold_first_error for t, lab in items)
        return {"solutions": len(items), "agreement": hits / len(items),
                "rollouts": sum(lab.rollouts for _, lab in items),
                "rollouts_per_solution": sum(lab.rollouts for _, lab in items) / len(items),
                "probes_per_solution": sum(lab.probes for _, lab in items) / len(items),
                "mean_steps": sum(len(t.steps) for t, _ in items) / len(items)}

    kinds = sorted({t.kind for t, _ in scored})
    return {
        "all": block(scored),
        "correct_solutions": block([x for x in scored if x[0].gold_first_error == -1]),
        "wrong_solutions": block([x for x in scored if x[0].gold_first_error != -1]),
        "per_kind": {k: block([x for x in scored if x[0].kind == k]) for k in kinds},
        "verifications": sum(lab.verifications for lab in labels),
    }


def label_rows(tasks: Sequence[Task], labels: Sequence[StepLabels], method: str, soft: bool) -> list[dict[str, Any]]:
    """Step-labelled rows (``prompt, steps, labels | first_error``) that ``rewardlab train prm`` reads.

    MC rows carry per-step labels (soft q_t or hard 1[q_t > 0]); binary-search rows carry the found
    ``first_error`` (steps after it are unlabelled). Provenance columns say how each label was made.
    """
    rows = []
    for task, lab in zip(tasks, labels):
        row: dict[str, Any] = {"id": task.id, "prompt": task.prompt, "steps": list(task.steps)}
        if method == "mc":
            row["labels"] = [q if soft else h for q, h in zip(lab.soft, lab.hard)]
        else:
            row["first_error"] = lab.first_error
        row.update({"reference": task.reference, "kind": task.kind, "gold_first_error": task.gold_first_error,
                    "predicted_first_error": lab.first_error, "method": method, "rollouts": lab.rollouts,
                    "probes": [[t, q] for t, q in lab.trace]})
        rows.append(row)
    return rows

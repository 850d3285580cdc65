"""Wrong solutions with a known first wrong step, made by editing a problem's gold computation.

Five kinds, each a mistake real solvers make:

- ``arithmetic``: one step's result is off (a slip of 1, 2 or 10, or two digits swapped); later steps
  carry the wrong value forward correctly, so the final answer is wrong.
- ``operand``: one step uses a wrong number (another number of the question, or an earlier result in
  place of the right one); later steps carry the consequence.
- ``skip``: one step is left out; a later use of its result uses its first operand instead (forgetting to
  multiply by the number of packs, say). The first wrong step is the first step whose numbers differ from
  the gold step it stands for, or the step that states the wrong answer.

Every label is checked against `rewardlab.synth.world.first_error` on the text; a draw where the two
disagree (a wrong step that happens to read exactly like another gold step) is redrawn.
- ``final``: every step is right but the stated answer is copied wrong (another step's result, or a slip).
- ``flawed``: the final answer is right but one earlier step shows a wrong result that later steps
  ignore (the ProcessBench case that outcome checks miss).

``first_error`` is the 0-based index of the earliest wrong step (ProcessBench ``label``); only ``flawed``
has ``final_correct`` True.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from rewardlab.synth.world import Op, Operand, Problem, Ref, apply, first_error, operand_value, render_step

KINDS = ("arithmetic", "operand", "skip", "final", "flawed")
MAX_TRIES = 200


@dataclass(frozen=True)
class Corruption:
    """A corrupted solution: its steps, the index of the first wrong step and the answer it states."""

    kind: str
    steps: tuple[str, ...]
    first_error: int
    final_answer: int
    final_correct: bool

    @property
    def solution(self) -> str:
        return "\n".join(self.steps)


def corrupt_solution(problem: Problem, kind: str, rng: random.Random) -> Corruption:
    """A corruption of ``kind`` (one of `KINDS`) of ``problem``'s gold solution, drawn with ``rng``.

    Raises ValueError for an unknown kind, or when no valid corruption of that kind exists (every
    intermediate value must stay a non-negative integer, divisions exact).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown corruption kind {kind!r}; expected one of {', '.join(KINDS)}")
    make = {"arithmetic": _arithmetic, "operand": _operand, "skip": _skip, "final": _final,
            "flawed": _flawed}[kind]
    for _ in range(MAX_TRIES):
        made = make(problem, rng)
        # A draw whose text reads differently from its construction (a wrong step that happens to equal
        # another gold step) is redrawn, so every label agrees with `first_error` on the text.
        if made is not None and first_error(problem, made.steps) == made.first_error:
            return made
    raise ValueError(f"{problem.id}: no valid {kind!r} corruption found in {MAX_TRIES} draws")


def corrupt_all(problem: Problem, rng: random.Random, kinds: tuple[str, ...] = KINDS) -> list[Corruption]:
    """One corruption of each kind that this problem admits (kinds it cannot take are left out)."""
    out = []
    for kind in kinds:
        try:
            out.append(corrupt_solution(problem, kind, rng))
        except ValueError:
            continue
    return out


def corrupt_any(problem: Problem, rng: random.Random, kinds: tuple[str, ...] = KINDS) -> Corruption:
    """A corruption of a kind drawn from ``kinds``, trying the others when the problem does not admit it."""
    for kind in rng.sample(kinds, len(kinds)):
        try:
            return corrupt_solution(problem, kind, rng)
        except ValueError:
            continue
    raise ValueError(f"{problem.id}: admits none of the corruption kinds {', '.join(kinds)}")


def slip(value: int, rng: random.Random) -> int | None:
    """A plausible arithmetic slip of ``value``: +-1, +-2, +-10 or its last two digits swapped (never 0)."""
    options = [value + d for d in (-10, -2, -1, 1, 2, 10)]
    digits = str(value)
    if len(digits) >= 2 and digits[-1] != digits[-2]:
        options.append(int(digits[:-2] + digits[-1] + digits[-2]))
    options = [v for v in options if v > 0 and v != value]
    return rng.choice(options) if options else None


def _run(ops: list[Op], slip_at: int | None = None, slip_value: int = 0,
         propagate: bool = True) -> tuple[list[int], list[int]] | None:
    """(shown, used) results of every step; a slip at ``slip_at`` shows ``slip_value`` there.

    ``used`` is what later steps read: the slipped value when ``propagate``, else the true one.
    None when some step has no non-negative integer result.
    """
    shown: list[int] = []
    used: list[int] = []
    for i, op in enumerate(ops):
        out = apply(op.sym, operand_value(op.left, used), operand_value(op.right, used))
        if out is None:
            return None
        if i == slip_at:
            shown.append(slip_value)
            used.append(slip_value if propagate else out)
        else:
            shown.append(out)
            used.append(out)
    return shown, used


def _render(ops: list[Op], shown: list[int], used: list[int], answer: int) -> tuple[str, ...]:
    lines = []
    for i, op in enumerate(ops):
        last = i == len(ops) - 1
        lines.append(render_step(op.phrase, operand_value(op.left, used), op.sym, operand_value(op.right, used),
                                 shown[i], answer if last else None))
    return tuple(lines)


def _arithmetic(problem: Problem, rng: random.Random) -> Corruption | None:
    ops, gold = list(problem.ops), problem.values()
    k = rng.randrange(len(ops))
    wrong = slip(gold[k], rng)
    run = None if wrong is None else _run(ops, k, wrong)
    if run is None or run[0][-1] == problem.answer:
        return None
    shown, used = run
    return Corruption("arithmetic", _render(ops, shown, used, shown[-1]), k, shown[-1], False)


def _operand(problem: Problem, rng: random.Random) -> Corruption | None:
    ops, gold = list(problem.ops), problem.values()
    k = rng.randrange(len(ops))
    side = rng.choice(["left", "right"])
    original: Operand = getattr(ops[k], side)
    literals = sorted({v for op in ops for v in (op.left, op.right) if isinstance(v, int)})
    choices: list[Operand] = [v for v in literals if v != operand_value(original, gold)]
    choices += [Ref(j) for j in range(k) if Ref(j) != original and gold[j] != operand_value(original, gold)]
    if not choices:
        return None
    ops[k] = replace(ops[k], **{side: rng.choice(choices)})
    run = _run(ops)
    if run is None or run[0][-1] == problem.answer:
        return None
    shown, used = run
    return Corruption("operand", _render(ops, shown, used, shown[-1]), k, shown[-1], False)


def _skip(problem: Problem, rng: random.Random) -> Corruption | None:
    ops, gold = list(problem.ops), problem.values()
    k = rng.randrange(len(ops))
    kept = [i for i in range(len(ops)) if i != k]
    new_index = {old: new for new, old in enumerate(kept)}

    def remap(operand: Operand) -> Operand:
        if not isinstance(operand, Ref):
            return operand
        if operand.step == k:  # the skipped step's result is replaced by its first operand
            return remap(ops[k].left)
        return Ref(new_index[operand.step])

    new_ops = [replace(ops[i], left=remap(ops[i].left), right=remap(ops[i].right)) for i in kept]
    run = _run(new_ops)
    if run is None or run[0][-1] == problem.answer:
        return None
    shown, used = run
    first = len(new_ops) - 1  # at the latest, the step stating the wrong answer
    for new, old in enumerate(kept):
        op, gold_op = new_ops[new], ops[old]
        numbers = (operand_value(op.left, used), operand_value(op.right, used), shown[new])
        gold_numbers = (operand_value(gold_op.left, gold), operand_value(gold_op.right, gold), gold[old])
        if numbers != gold_numbers:
            first = new
            break
    return Corruption("skip", _render(new_ops, shown, used, shown[-1]), first, shown[-1], False)


def _final(problem: Problem, rng: random.Random) -> Corruption | None:
    ops, gold = list(problem.ops), problem.values()
    copied = [v for v in gold[:-1] if v != problem.answer]
    wrong = rng.choice(copied) if copied and rng.random() < 0.5 else slip(problem.answer, rng)
    if wrong is None:
        return None
    return Corruption("final", _render(ops, gold, gold, wrong), len(ops) - 1, wrong, False)


def _flawed(problem: Problem, rng: random.Random) -> Corruption | None:
    ops, gold = list(problem.ops), problem.values()
    if len(ops) < 2:
        return None
    k = rng.randrange(len(ops) - 1)
    wrong = slip(gold[k], rng)
    if wrong is None:
        return None
    shown, used = _run(ops, k, wrong, propagate=False)  # type: ignore[misc]  # gold values always run
    return Corruption("flawed", _render(ops, shown, used, problem.answer), k, problem.answer, True)

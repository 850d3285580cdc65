"""Corruptions: each kind makes the mistake it names, at the step its label says."""

from __future__ import annotations

import random

import pytest

from rewardlab.synth.corrupt import KINDS, corrupt_all, corrupt_solution, slip
from rewardlab.synth.world import Op, Problem, first_error, generate_problems, is_correct, parse_equation

PROBLEMS = generate_problems(300, seed=11)


@pytest.mark.parametrize("kind", KINDS)
def test_labels_agree_with_the_text(kind):
    rng = random.Random(0)
    made = 0
    for p in PROBLEMS:
        try:
            c = corrupt_solution(p, kind, rng)
        except ValueError:
            continue
        made += 1
        assert c.kind == kind and c.steps != p.steps
        assert 0 <= c.first_error < len(c.steps)
        assert first_error(p, c.steps) == c.first_error
        assert list(c.steps[:c.first_error]) == list(p.steps[:c.first_error]) or kind == "skip"
        assert is_correct(c.solution, p.answer) == c.final_correct == (kind == "flawed")
        assert c.steps[-1].endswith(f"The answer is {c.final_answer}.")
    assert made >= 0.98 * len(PROBLEMS)


def test_arithmetic_slip_breaks_exactly_one_equation_and_carries_it():
    rng = random.Random(1)
    for p in PROBLEMS[:100]:
        c = corrupt_solution(p, "arithmetic", rng)
        false_equations = [i for i, s in enumerate(c.steps)
                           if (e := parse_equation(s)) and e[3] != _apply(e[0], e[1], e[2])]
        assert false_equations == [c.first_error]


def test_flawed_keeps_the_answer_and_later_steps_ignore_the_flaw():
    rng = random.Random(2)
    for p in PROBLEMS[:100]:
        c = corrupt_solution(p, "flawed", rng)
        assert c.final_answer == p.answer and c.first_error < len(p.steps) - 1
        assert [i for i, (a, b) in enumerate(zip(c.steps, p.steps)) if a != b] == [c.first_error]


def test_final_changes_only_the_stated_answer():
    rng = random.Random(3)
    for p in PROBLEMS[:100]:
        c = corrupt_solution(p, "final", rng)
        assert c.steps[:-1] == p.steps[:-1] and c.final_answer != p.answer
        assert parse_equation(c.steps[-1]) == parse_equation(p.steps[-1])


def test_skip_drops_one_step():
    rng = random.Random(4)
    for p in PROBLEMS[:100]:
        c = corrupt_solution(p, "skip", rng)
        assert len(c.steps) == len(p.steps) - 1 and c.final_answer != p.answer


def test_hand_built_problem_operand_and_skip():
    from rewardlab.synth.world import Ref, render_solution

    ops = (Op("In the bags", 3, "*", 4), Op("After buying", 5, "+", Ref(1 - 1)))
    p = Problem("hand", "Tom has 5 apples. He buys 3 bags with 4 apples in each. How many?",
                render_solution(ops, [12, 17]), 17, "easy", "chain", ops)
    skip = corrupt_solution(p, "skip", random.Random(0))
    # skipping the multiplication uses its first operand (3): 5 + 3 = 8; skipping the sum answers 12
    assert skip.solution in ("After buying: 5 + 3 = 8. The answer is 8.",
                             "In the bags: 3 * 4 = 12. The answer is 12.")
    assert skip.first_error == 0
    assert {c.kind for c in corrupt_all(p, random.Random(0))} == set(KINDS)


def test_unknown_kind_and_slip():
    with pytest.raises(ValueError, match="unknown corruption kind 'typo'"):
        corrupt_solution(PROBLEMS[0], "typo", random.Random(0))
    rng = random.Random(0)
    assert {slip(47, rng) for _ in range(200)} == {37, 45, 46, 48, 49, 57, 74}
    assert slip(0, rng) in {1, 2, 10}


def _apply(a: int, sym: str, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else -1}[sym]

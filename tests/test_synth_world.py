"""The world generator: determinism, step counts per difficulty, exact gold arithmetic, the verifier."""

from __future__ import annotations

import pytest

from rewardlab.synth.world import (
    DIFFICULTIES,
    Op,
    Ref,
    evaluate,
    extract_answer,
    first_error,
    format_prompt,
    generate_problems,
    is_correct,
    parse_equation,
    split_steps,
)

PROBLEMS = generate_problems(600, seed=3)


def test_same_seed_same_problems_and_prefix_stable():
    again = generate_problems(50, seed=3)
    assert [p.question for p in again] == [p.question for p in PROBLEMS[:50]]
    assert [p.steps for p in again] == [p.steps for p in PROBLEMS[:50]]
    other = generate_problems(50, seed=4)
    assert [p.question for p in other] != [p.question for p in again]


def test_every_template_and_difficulty_occurs_with_its_step_counts():
    assert {p.template for p in PROBLEMS} == {"chain", "shopping", "group"}
    assert {p.difficulty for p in PROBLEMS} == set(DIFFICULTIES)
    for p in PROBLEMS:
        limits = DIFFICULTIES[p.difficulty]
        assert limits["min_steps"] <= len(p.steps) <= limits["max_steps"]
    assert {len(p.steps) for p in PROBLEMS} == set(range(2, 9))


@pytest.mark.parametrize("level", list(DIFFICULTIES))
def test_fixed_difficulty(level):
    problems = generate_problems(30, seed=0, difficulty=level)
    assert {p.difficulty for p in problems} == {level}


def test_unknown_difficulty_is_an_error():
    with pytest.raises(ValueError, match="unknown difficulty 'expert'"):
        generate_problems(1, seed=0, difficulty="expert")


def test_gold_steps_are_true_equations_chained_to_the_answer():
    for p in PROBLEMS:
        values = p.values()
        assert p.answer == values[-1] and all(v > 0 for v in values)
        for line, value in zip(p.steps, values):
            a, sym, b, c = parse_equation(line)
            assert c == value == {"+": a + b, "-": a - b, "*": a * b, "/": a // b if b else -1}[sym]
            if sym == "/":
                assert a % b == 0
        assert p.steps[-1].endswith(f"The answer is {p.answer}.")
        assert all("The answer is" not in line for line in p.steps[:-1])
        assert split_steps(p.solution) == list(p.steps)


def test_prompt_format_and_question_numbers_feed_the_steps():
    p = PROBLEMS[0]
    assert p.prompt == f"Question: {p.question}\nAnswer:\n" == format_prompt(p.question)
    for op in p.ops:  # every literal operand is a number written in the question
        for operand in (op.left, op.right):
            if isinstance(operand, int):
                assert str(operand) in p.question


def test_evaluate_hand_computed_and_rejects_fractions():
    ops = [Op("a", 3, "*", 4), Op("b", 20, "-", Ref(0)), Op("c", Ref(1), "/", 2)]
    assert evaluate(ops) == [12, 8, 4]
    with pytest.raises(ValueError, match="step 1"):
        evaluate([Op("a", 3, "*", 4), Op("b", Ref(0), "/", 5)])


def test_extract_answer_and_is_correct():
    assert extract_answer("x: 1 + 2 = 3. The answer is 3.") == 3
    assert extract_answer("The answer is 4. no, The answer is 12.") == 12
    assert extract_answer("no answer here") is None
    assert is_correct("The answer is 12.", 12) and is_correct("The answer is 12.", "12")
    assert not is_correct("The answer is 13.", 12)
    assert not is_correct("12", 12)


def test_first_error_on_gold_and_on_hand_edited_solutions():
    p = PROBLEMS[0]
    steps = list(p.steps)
    assert first_error(p, steps) == -1
    a, sym, b, c = parse_equation(steps[0])
    wrong = steps.copy()
    wrong[0] = steps[0].replace(f"= {c}.", f"= {c + 1}.")
    assert first_error(p, wrong) == 0
    no_answer = steps.copy()
    no_answer[-1] = no_answer[-1].split(" The answer is")[0]
    assert first_error(p, no_answer) == len(steps) - 1
    assert first_error(p, steps[:-1] + [f"The answer is {p.answer + 1}."]) == len(steps) - 1
    assert first_error(p, ["I do not know."]) == 0
    assert first_error(p, []) == 0


def test_mistake_kind_names_the_first_wrong_step():
    from rewardlab.synth.world import Problem, Ref, mistake_kind, render_solution

    ops = (Op("Cost of pens", 3, "*", 4), Op("Cost of cups", 2, "*", 5), Op("Total cost", Ref(0), "+", Ref(1)))
    p = Problem("hand", "q", render_solution(ops, [12, 10, 22]), 22, "easy", "shopping", ops)
    assert mistake_kind(p, p.steps) is None
    assert mistake_kind(p, ["Cost of pens: 3 * 4 = 13.", *p.steps[1:]]) == "arithmetic"
    assert mistake_kind(p, ["Cost of cups: 3 * 4 = 12.", *p.steps[1:]]) == "phrase"
    assert mistake_kind(p, ["Cost of pens: 3 * 5 = 15.", *p.steps[1:]]) == "operand"
    assert mistake_kind(p, [*p.steps[:2], "Total cost: 12 + 10 = 22. The answer is 23."]) == "answer"
    assert mistake_kind(p, [*p.steps[:2], "Total cost: 12 + 10 = 22."]) == "format"
    assert mistake_kind(p, ["I give up."]) == "format"

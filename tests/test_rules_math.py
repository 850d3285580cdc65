"""rule:math: answer extraction, normalisation and equivalence, and how the rule reports what it did."""

from __future__ import annotations

import math

import pytest

from rewardlab import Sample, load_reward
from rewardlab.rewards.rules.math_answer import equivalent, extract_answer, gold_answer, last_boxed, normalize


@pytest.mark.parametrize("text, answer, method", [
    (r"so the area is \boxed{\frac{1}{2}}.", r"\frac{1}{2}", "\\boxed{}"),
    (r"first \boxed{3}, corrected: \boxed{\{1, 2\}}", r"\{1, 2\}", "\\boxed{}"),
    (r"\boxed{\frac{\sqrt{3}}{2}}", r"\frac{\sqrt{3}}{2}", "\\boxed{}"),
    ("48/2 = 24\n#### 24", "24", "####"),
    ("So the total is 7. The answer is 18.", "18", "answer phrase"),
    ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}", "answer phrase"),
    ("She pays 3.5 dollars.\nA: 3.5", "3.5", "answer phrase"),
    ("we get 12 apples and then 15 pears", "15", "last number"),
    ("<think>2+2</think><answer>4</answer>", "4", "<answer>"),
    ("<think>...</think><answer>so \\boxed{7}</answer>", "7", "\\boxed{}"),
])
def test_extract_answer_finds_the_final_answer(text, answer, method):
    found = extract_answer(text)
    assert found is not None
    assert (found.text, found.method) == (answer, method)


def test_extract_answer_none_when_nothing_is_stated():
    assert extract_answer("I do not know how to solve this.") is None
    assert last_boxed("unbalanced \\boxed{1 + {2}") is None


def test_gold_answer_keeps_bare_references_whole():
    # A bare expression must not be cut to its last number, a whole solution is extracted.
    assert gold_answer("x^2 + 3").text == "x^2 + 3"
    assert gold_answer("12 + 30 = 42\n#### 42").text == "42"


@pytest.mark.parametrize("raw, clean", [
    ("$1,000$", "1000"),
    ("10\\text{ cm}", "10"),
    ("18 dollars", "18"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "( 3, \\frac{\\pi}{2} )"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("90^\\circ", "90"),
    ("\\text{(C)}", "(C)"),
    ("5.", "5"),
])
def test_normalize_strips_presentation(raw, clean):
    assert normalize(raw) == clean


@pytest.mark.parametrize("pred, gold, how", [
    ("0.5", "\\frac{1}{2}", "numeric"),
    ("1/2", "\\dfrac12", "math-verify"),
    ("50\\%", "0.5", "numeric"),
    ("50%", "50", "numeric"),
    ("$1,000", "1000", "string"),
    ("12 \\text{ inches}", "12", "string"),
    ("(3, \\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)", "math-verify"),
    ("1+x^2", "x^2+1", "math-verify"),
    ("\\sqrt{8}", "2\\sqrt{2}", "math-verify"),
])
def test_equivalent_accepts_equal_values(pred, gold, how):
    assert equivalent(pred, gold) == (True, how)


@pytest.mark.parametrize("pred, gold", [("0.51", "\\frac{1}{2}"), ("(3, \\pi)", "(3, \\pi/2)"), ("x^2-1", "x^2+1"),
                                        ("17", "18"), ("51%", "0.5")])
def test_equivalent_rejects_different_values(pred, gold):
    assert equivalent(pred, gold)[0] is False


def test_rule_math_scores_and_explains():
    rule = load_reward("rule:math")
    right, wrong, empty, unscorable = rule.score([
        Sample("q", "... so \\boxed{\\frac{1}{2}}", reference="0.5"),
        Sample("q", "The answer is 7.", reference="#### 8"),
        Sample("q", "I am not sure.", reference="8"),
        Sample("q", "The answer is 7."),
    ])
    assert right.value == 1.0 and "\\frac{1}{2}" in right.rationale and "numeric" in right.rationale
    assert wrong.value == 0.0 and "does not equal" in wrong.rationale
    # Bad input: no extractable answer is a graded 0 with the reason, not an error.
    assert empty.value == 0.0 and empty.ok and "no answer found" in empty.rationale
    assert empty.components == {"extracted": 0.0}
    # A sample the rule cannot check at all is a failure (NaN + error), never a silent 0.
    assert math.isnan(unscorable.value) and "no reference" in unscorable.error


def test_rule_spec_errors_fail_at_load():
    with pytest.raises(ValueError, match="did you mean 'math'"):
        load_reward("rule:maths")
    with pytest.raises(ValueError, match="unknown option"):
        load_reward("rule:math,timeuot=3")

"""Judge-output parsers on hand-written outputs, including hostile ones, and criteria files."""

from __future__ import annotations

import pytest

from rewardlab.rewards.judge import parsers as p
from rewardlab.rewards.judge.criteria import CriteriaError, Criterion, load_criteria


@pytest.mark.parametrize("text,label", [
    ("Assistant A is more accurate. [[A]]", "A"),
    ("[[B]]", "B"),
    ("<think>maybe [[A]]?</think>On reflection B is right. [[B]]", "B"),
    ("reasoning the template opened</think> so [[A]]", "A"),
])
def test_bracket_verdicts(text, label):
    got = p.bracket_verdict(text, "AB")
    assert got.ok and got.label == label and got.values == ([1.0, 0.0] if label == "A" else [0.0, 1.0])


@pytest.mark.parametrize("text,reason", [
    ("A is better [[A]] ... actually [[B]]", "several verdicts"),
    ("A is better.", "no [[verdict]]"),
    ("[[C]]", "no [[verdict]]"),
    ("<think>never finished [[A]]", "unclosed <think>"),
    ("[A]", "no [[verdict]]"),
])
def test_bracket_verdicts_reject_ambiguity(text, reason):
    got = p.bracket_verdict(text, "AB")
    assert not got.ok and reason in got.error


def test_four_way_labels():
    assert p.bracket_verdict("C is best: [[C]]", "ABCD").values == [0, 0, 1, 0]
    assert "several" in p.bracket_verdict("[[A]] or [[D]]", "ABCD").error


def test_rm_r1_and_think_rm_answer_tags():
    assert p.answer_tag_verdict("<think>...</think><answer>[[B]]</answer>", "AB", brackets=True).label == "B"
    bad = p.answer_tag_verdict("<answer>[[A]]</answer> though [[B]] is fine", "AB", brackets=True)
    assert "several verdicts" in bad.error  # RM-R1: both verdicts present = invalid
    assert p.answer_tag_verdict("<answer>A</answer> then <answer>B</answer>", "AB", brackets=False).label == "B"
    assert not p.answer_tag_verdict("<answer>A or B</answer>", "AB", brackets=False).ok
    assert not p.answer_tag_verdict("[[A]]", "AB", brackets=True).ok  # no answer block at all
    assert not p.answer_tag_verdict("<think><answer>A</answer></think>", "AB", brackets=False).ok


@pytest.mark.parametrize("text,value", [("YES", 1.0), ("**NO**", 0.0), ("Yes.", 1.0), ("<think>no!</think> YES", 1.0)])
def test_yes_no(text, value):
    assert p.yes_no(text).values == [value]


@pytest.mark.parametrize("text", ["yes, because it matches", "YES NO", "", "Y"])
def test_yes_no_rejects_anything_else(text):
    assert not p.yes_no(text).ok


def test_rewardbench2_trailing_rating():
    assert p.trailing_rating("Clear and correct.\n\n9", 1, 10).values == [pytest.approx(8 / 9)]
    assert p.trailing_rating("10", 1, 10).values == [1.0]
    assert p.trailing_rating("fine\n1 ", 1, 10).values == [0.0]
    assert "outside" in p.trailing_rating("11", 1, 10).error
    assert not p.trailing_rating("I rate it 8.", 1, 10).ok  # text after the rating: RewardBench 2 rejects it too
    assert not p.trailing_rating("4.5", 1, 10).ok
    assert not p.trailing_rating("no number here", 1, 10).ok


def test_prometheus_result_marker():
    assert p.result_rating("Feedback: solid. [RESULT] 4", 1, 5).values == [0.75]
    assert p.result_rating("Feedback: x [RESULT] 2 ... revised [RESULT] (5)", 1, 5).label == "5"
    assert not p.result_rating("Feedback: x [RESULT] 4 because it is good", 1, 5).ok
    assert "outside" in p.result_rating("[RESULT] 6", 1, 5).error
    assert "no [RESULT]" in p.result_rating("Score: 4", 1, 5).error


CRITERIA = (Criterion("correct", "Is the answer right?", 1.0), Criterion("clear", "Is it clear?", 3.0,
                                                                          ("poor", "ok", "good")))


def test_criteria_verdicts_weighted_mean():
    text = ('Here you go:\n```json\n{"verdicts": [{"name": "correct", "reason": "4 is right", "verdict": "YES"},'
            ' {"name": "clear", "reason": "terse", "verdict": "ok"}]}\n```')
    got = p.criteria_verdicts(text, CRITERIA)
    assert got.components == {"correct": 1.0, "clear": 0.5}
    assert got.values == [pytest.approx((1.0 * 1 + 0.5 * 3) / 4)]  # 0.625
    assert got.reasons["correct"] == "4 is right"


@pytest.mark.parametrize("body,reason", [
    ('[{"name": "correct", "reason": "r", "verdict": "yes"}]', "expected"),
    ('[{"name": "correct", "reason": "r", "verdict": "yes"}, {"name": "clear", "reason": "r", "verdict": "great"}]',
     "not one of"),
    ('[{"name": "correct", "verdict": "yes"}, {"name": "clear", "verdict": "ok"}, {"name": "x", "verdict": "no"}]',
     "expected"),
    ('"not a list"', "not a list"),
])
def test_criteria_verdicts_reject_incomplete_or_off_menu(body, reason):
    got = p.criteria_verdicts('{"verdicts": ' + body + "}", CRITERIA)
    assert not got.ok and reason in got.error


def test_group_scores():
    ok = p.group_scores('{"scores": [{"id": "2", "score": 0.25}, {"id": "1", "explanation": "x", "score": 1}]}',
                        ["1", "2"])
    assert ok.values == [1.0, 0.25]
    for bad, reason in [('{"scores": [{"id": "1", "score": 1.2}, {"id": "2", "score": 0}]}', "outside"),
                        ('{"scores": [{"id": "1", "score": 0.5}]}', "1 of 2"),
                        ('{"scores": [{"id": "1", "score": 0.5}, {"id": "1", "score": 0.5}]}', "repeated"),
                        ('{"scores": [{"id": "1", "score": true}, {"id": "2", "score": 0}]}', "not a number"),
                        ('{"scores": [{"id": "1", "score": NaN}, {"id": "2", "score": 0}]}', "not a number"),
                        ('{"scores": [{"id": "1", "score": 0.5}, {"id": "2", "score": 0.1}', "no JSON")]:
        got = p.group_scores(bad, ["1", "2"])
        assert not got.ok and reason in got.error, (bad, got.error)


@pytest.mark.timeout(20)
def test_hostile_outputs_stay_cheap():
    assert not p.group_scores("{" * 200_000, ["1"]).ok
    assert not p.group_scores("[" * 50_000 + '{"scores": []}', ["1"]).ok
    assert not p.bracket_verdict("[[" * 500_000, "AB").ok
    assert not p.trailing_rating(" " * 500_000 + "x", 1, 10).ok
    assert not p.result_rating("[RESULT]" * 100_000, 1, 5).ok
    nested = '{"verdicts": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert not p.criteria_verdicts(nested, CRITERIA).ok


def test_criteria_files_are_checked_with_located_errors(tmp_path):
    good = tmp_path / "c.yaml"
    good.write_text("criteria:\n  - {name: correct, text: 'right?', weight: 2}\n"
                    "  - {name: style, text: 'tidy?', weight: 0, choices: [bad, fine, great]}\n")
    loaded = load_criteria(good)
    assert [c.name for c in loaded] == ["correct", "style"] and loaded[1].choices == ("bad", "fine", "great")
    cases = {"- {name: a, text: t, weight: -1}": "field 'weight'",
             "- {name: a, text: t, choices: [only]}": "field 'choices'",
             "- {name: a, text: t}\n- {name: a, text: u}": "duplicate",
             "- {name: a, text: t, weight: 0}": "positive weight",
             "- {name: a, text: t, colour: red}": "unknown field",
             "- {name: '', text: t}": "field 'name'"}
    for body, reason in cases.items():
        bad = tmp_path / "bad.yaml"
        bad.write_text(body)
        with pytest.raises(CriteriaError, match=reason) as info:
            load_criteria(bad)
        assert str(bad) in str(info.value)

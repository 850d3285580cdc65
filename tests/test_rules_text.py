"""rule:exact, rule:regex, rule:choice, rule:format."""

from __future__ import annotations

import math

import pytest

from rewardlab import Sample, load_reward


def values(spec, *samples):
    return [s.value for s in load_reward(spec).score(list(samples))]


def test_exact_and_normalised_match():
    s = [Sample("q", "  Paris ", reference="Paris"), Sample("q", "The Paris!", reference="paris"),
         Sample("q", "Lyon", reference="Paris")]
    assert values("rule:exact", *s) == [1.0, 0.0, 0.0]
    assert values("rule:exact,normalize=true", *s) == [1.0, 1.0, 0.0]
    [missing] = load_reward("rule:exact").score([Sample("q", "Paris")])
    assert math.isnan(missing.value) and "no reference" in missing.error


def test_regex_pattern_may_contain_commas_and_flags():
    spec = "rule:regex,flags=i,pattern=^(yes|no), because"
    assert values(spec, Sample("q", "Yes, because it is"), Sample("q", "yes because")) == [1.0, 0.0]
    [why] = load_reward(spec).score([Sample("q", "maybe")])
    assert why.value == 0.0 and "no match" in why.rationale


def test_regex_named_answer_group_is_compared_with_the_reference():
    spec = r"rule:regex,pattern=Answer: (?P<answer>\w+)"
    assert values(spec, Sample("q", "Answer: B", reference="B"), Sample("q", "Answer: C", reference="B")) == [1.0, 0.0]


@pytest.mark.parametrize("spec, message", [
    ("rule:regex", "needs pattern"),
    ("rule:regex,pattern=(unclosed", "does not compile"),
    ("rule:regex,flags=q,pattern=a", "not one of"),
    ("rule:exact,normalise=true", "unknown option"),
    ("rule:format,tags=<bad>", "tag names"),
    ("rule:choice,choices=12", "must be letters"),
])
def test_bad_options_fail_when_loaded(spec, message):
    with pytest.raises(ValueError, match=message):
        load_reward(spec)


@pytest.mark.parametrize("response, expected", [
    ("The answer is (C).", 1.0),
    ("\\boxed{C}", 1.0),
    ("Answer: C", 1.0),
    ("C", 1.0),
    ("I pick (B) because of A) and ... no wait (C)", 1.0),
    ("The answer is (B).", 0.0),
])
def test_choice_finds_the_letter(response, expected):
    assert values("rule:choice,choices=ABCD", Sample("q", response, reference="(C)")) == [expected]


def test_choice_without_a_letter_scores_zero_with_reason():
    [s] = load_reward("rule:choice,choices=ABCD").score([Sample("q", "it depends", reference="C")])
    assert s.value == 0.0 and "no option letter" in s.rationale


def test_format_rewards_think_answer_blocks():
    ok = Sample("q", "<think>2 and 2</think>\n<answer>4</answer>")
    no_think = Sample("q", "<answer>4</answer>")
    outside = Sample("q", "Sure! <think>x</think><answer>4</answer>")
    empty = Sample("q", "<think> </think><answer>4</answer>")
    scores = load_reward("rule:format").score([ok, no_think, outside, empty])
    assert [s.value for s in scores] == [1.0, 0.0, 0.0, 0.0]
    assert "missing <think>" in scores[1].rationale
    assert "outside" in scores[2].rationale
    assert "<think> is empty" in scores[3].rationale
    assert values("rule:format,strict=false", outside) == [1.0]
    tagged = Sample("q", "<reasoning>a</reasoning><answer>b</answer>")
    assert values("rule:format,tags=reasoning+answer", tagged) == [1.0]

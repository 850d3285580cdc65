"""The verl drop-in: compute_score(data_source, solution_str, ground_truth, extra_info)."""

from __future__ import annotations

import inspect

import pytest

from rewardlab.integrations.verl import compute_score, make_compute_score


def test_signature_is_verls():
    params = list(inspect.signature(compute_score).parameters)
    assert params[:4] == ["data_source", "solution_str", "ground_truth", "extra_info"]


def test_math_sources_use_rule_math():
    assert compute_score("openai/gsm8k", "... so she has 18 left.\n#### 18", "18") == 1.0
    assert compute_score("lighteval/MATH", "so \\boxed{\\frac{2}{4}}", "\\frac{1}{2}", {"index": 3}) == 1.0
    assert compute_score("openai/gsm8k", "I give up", "18") == 0.0


def test_spec_from_the_operator_and_row_choices_only_from_its_list(monkeypatch):
    info = {"reward_spec": "mcq", "question": "Which?"}
    with pytest.raises(ValueError, match="no rewardlab reward for data_source 'my/mcq'.*rows may not choose"):
        compute_score("my/mcq", "The answer is (B)", "B", info)  # the row alone decides nothing
    monkeypatch.setenv("REWARDLAB_ROW_REWARDS", "mcq=rule:choice,choices=ABCD; exact=rule:exact")
    assert compute_score("my/mcq", "The answer is (B)", "B", info) == 1.0
    assert compute_score("my/mcq", "(B)", "B", {"reward": "exact"}) == 0.0
    with pytest.raises(ValueError, match="did not list; rows may choose among \\['exact', 'mcq'\\]"):
        compute_score("my/mcq", "B", "B", {"reward_spec": "rule:choice"})
    monkeypatch.delenv("REWARDLAB_ROW_REWARDS")
    with pytest.raises(ValueError, match="no rewardlab reward for data_source 'my/data'"):
        compute_score("my/data", "x", "y")
    monkeypatch.setenv("REWARDLAB_REWARD", "rule:exact,normalize=true")
    assert compute_score("my/data", "The Cat", "cat") == 1.0
    monkeypatch.setenv("REWARDLAB_ROW_REWARDS", "broken")
    with pytest.raises(ValueError, match="is not NAME=SPEC"):
        compute_score("my/data", "The Cat", "cat")


def test_bound_spec_errors_and_dict_form():
    strict = make_compute_score("rule:bleu")
    with pytest.raises(ValueError, match="could not score"):
        strict("src", "the cat", None)
    lenient = make_compute_score("rule:bleu", on_error="zero")
    assert lenient("src", "the cat", None) == 0.0
    detailed = make_compute_score("rule:math", with_components=True)
    assert detailed("src", "The answer is 4", "4") == {"score": 1.0, "extracted": 1.0}
    with pytest.raises(ValueError, match="on_error"):
        make_compute_score("rule:math", on_error="ignore")

"""Composite YAML rewards: the operators' arithmetic, gating, transforms, components, and load-time errors."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from rewardlab import Sample, Score, load_reward
from rewardlab.rewards.base import REWARD_FAMILIES
from rewardlab.rewards.composite import CompositeReward, CompositeSpecError


class WordCount:
    """A real (tiny) reward: the number of words; it records every response it was asked to score."""

    seen: list[str] = []

    def __init__(self, argument: str):
        self.name = f"test_words:{argument}"

    def score(self, samples):
        WordCount.seen.extend(s.response for s in samples)
        return [Score(float(len(s.response.split())), components={"chars": float(len(s.response))})
                for s in samples]


if "test_words" not in REWARD_FAMILIES:
    REWARD_FAMILIES.register("test_words", WordCount)


def write(tmp_path, text, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SAMPLES = [
    Sample("q", "<think>a</think><answer>The answer is 4</answer>", reference="4"),  # correct, formatted
    Sample("q", "The answer is 5", reference="4"),  # wrong, unformatted
]


def test_weighted_sum_min_product_and_components(tmp_path):
    spec = write(tmp_path, """
        rewards:
          correct: rule:math
          format: rule:format
          words: test_words:x
          both: {min: [correct, format]}
          prod: {product: [correct, words]}
        total:
          weighted_sum: {correct: 1.0, format: 0.5, words: -0.1, both: 2.0}
    """)
    reward = load_reward(str(spec))  # a .yaml path routes to the composite family
    first, second = reward.score(SAMPLES)
    # first: correct 1, format 1, words 4 ("<think>a</think><answer>The answer is 4</answer>" splits in 4)
    #   total = 1 + 0.5 - 0.4 + 2 * min(1, 1) = 3.1
    # second: correct 0, format 0, words 4: total = 0 + 0 - 0.4 + 0 = -0.4
    assert first.value == pytest.approx(3.1)
    assert second.value == pytest.approx(-0.4)
    assert first.components["both"] == 1.0 and second.components["both"] == 0.0
    assert first.components["words.chars"] == float(len(SAMPLES[0].response))
    assert "prod" not in first.components  # defined but not part of the total: never computed
    assert set(first.components) >= {"correct", "format", "words", "both", "correct.extracted"}
    assert "correct: answer '4'" in first.rationale


def test_gate_scores_the_gated_part_only_where_the_gate_passes(tmp_path):
    spec = write(tmp_path, """
        rewards:
          correct: rule:math
          length: {gate: correct, threshold: 1, then: test_words:gated, otherwise: -1}
        total: {weighted_sum: {correct: 1, length: 0.1}}
    """)
    WordCount.seen.clear()
    first, second = load_reward(str(spec)).score(SAMPLES)
    assert WordCount.seen == [SAMPLES[0].response]  # the wrong answer never reached the gated reward
    assert first.value == pytest.approx(1 + 0.1 * 4)
    assert second.value == pytest.approx(0 + 0.1 * -1)
    assert "test_words:gated" in first.components and "test_words:gated" not in second.components


def test_ensemble_aggregations():
    data = {"rewards": {"a": "test_words:a", "b": "rule:format",
                        "mean": {"ensemble": ["a", "b"]},
                        "min": {"ensemble": ["a", "b"], "agg": "min"},
                        "pess": {"ensemble": ["a", "b"], "agg": "mean_minus_std", "k": 2}},
            "total": {"weighted_sum": {"mean": 1, "min": 10, "pess": 100}}}
    [s] = CompositeReward.from_dict(data).score([Sample("q", "one two three")])
    # members: a = 3 words, b = 0 (no format). mean 1.5, min 0, population std 1.5 -> 1.5 - 2 * 1.5 = -1.5
    assert (s.components["mean"], s.components["min"], s.components["pess"]) == (1.5, 0.0, -1.5)
    assert s.value == pytest.approx(1.5 + 0 - 150)


def test_transforms_on_parts(tmp_path):
    data = {"rewards": {
        "z": {"reward": "test_words:z", "transforms": [{"zscore": {"mean": 2, "std": 2}}, {"clip": [-0.5, 10]}]},
        "run": {"reward": "test_words:r", "transforms": [{"zscore": "running"}]},
        "par": {"reward": "test_words:p", "transforms": ["par"]},
        "long": {"reward": "test_words:l", "transforms": [{"length_penalty": {"max": 4, "cache": 2}}]}},
        "total": {"weighted_sum": {"z": 1, "run": 1, "par": 1, "long": 1}}}
    reward = CompositeReward.from_dict(data)
    batch = [Sample("q", "a b b b b b", metadata={"reference_response": "a b"}),
             Sample("q", "a", metadata={"reference_response": ["a", "a b c"]})]
    six, one = reward.score(batch)
    # zscore: (6 - 2) / 2 = 2 and (1 - 2) / 2 = -0.5 -> clip [-0.5, 10] keeps both
    assert (six.components["z"], one.components["z"]) == pytest.approx((2.0, -0.5))
    # running z over this batch {6, 1}: mean 3.5, population std 2.5 -> +1, -1
    assert (six.components["run"], one.components["run"]) == pytest.approx((1.0, -1.0))
    # PAR: sigmoid(6 - 2); second has two references: mean(sigmoid(1 - 1), sigmoid(1 - 3))
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert six.components["par"] == pytest.approx(sig(4))
    assert one.components["par"] == pytest.approx((sig(0) + sig(-2)) / 2)
    # length penalty, max 4 words, cache 2: 6 words -> -1 -> 6 - 1 = 5; 1 word -> 1 + 0
    assert (six.components["long"], one.components["long"]) == (5.0, 1.0)


def test_failures_propagate_as_nan_with_the_part_named():
    data = {"rewards": {"correct": "rule:math", "fmt": "rule:format"},
            "total": {"weighted_sum": {"correct": 1, "fmt": 1}}}
    [s] = CompositeReward.from_dict(data).score([Sample("q", "The answer is 3")])  # no reference
    assert math.isnan(s.value)
    assert s.error.startswith("correct: math: the sample has no reference")
    assert s.components["fmt"] == 0.0 and np.isnan(s.components["correct"])


def test_nested_yaml_files_and_relative_paths(tmp_path):
    write(tmp_path, "rewards: {f: rule:format}\ntotal: f\n", "inner.yaml")
    outer = write(tmp_path, "rewards: {inner: inner.yaml, words: test_words:o}\n"
                            "total: {weighted_sum: {inner: 2, words: 1}}\n", "outer.yaml")
    [s] = load_reward(str(outer)).score([Sample("q", "<think>x</think><answer>y</answer>")])
    assert s.value == pytest.approx(2 * 1 + 1)
    assert s.components["inner.f"] == 1.0


@pytest.mark.parametrize("text, path, message", [
    ("rewards: {correct: rule:math}\ntotal: {weighted_sum: {corect: 1}}", "total.weighted_sum.corect",
     "unknown reward 'corect'; did you mean 'correct'?"),
    ("rewards: {a: {min: [b, x]}, b: rule:math}\ntotal: a", "rewards.a.min[1]", "unknown reward 'x'"),
    ("rewards: {a: {min: [b]}, b: {max: [a]}}\ntotal: a", "rewards.a", "cycle: a -> b -> a"),
    ("rewards: {a: rule:math}\ntotal: {weighted_sum: {a: .nan}}", "total.weighted_sum.a", "finite number"),
    ("rewards: {a: rule:math}\ntotal: {weighted_sum: {a: heavy}}", "total.weighted_sum.a", "finite number"),
    ("rewards: {a: rule:math}\ntotal: {weighted_sum: {a: true}}", "total.weighted_sum.a", "finite number"),
    ("rewards: {a: nosuchfamily:x}\ntotal: a", "rewards.a", "unknown reward family 'nosuchfamily'"),
    ("rewards: {a: 'rule:mathh'}\ntotal: a", "rewards.a", "did you mean 'math'"),
    ("rewards: {a: {reward: rule:math, weight: 2}}\ntotal: a", "rewards.a.weight", "unknown key"),
    ("rewards: {a: {reward: rule:math, transforms: [{clip: [1]}]}}\ntotal: a", "rewards.a.transforms[0].clip",
     "clip takes"),
    ("rewards: {a: rule:math}\ntotl: a", "totl", "unknown key"),
    ("rewards: {a: rule:math}", "total", "missing"),
    ("rewards: {a: {ensemble: [a2], agg: median}, a2: rule:math}\ntotal: a", "rewards.a.agg", "not mean, min"),
    ("rewards: {a: {gate: g}, g: rule:math}\ntotal: a", "rewards.a.then", "missing"),
    ("rewards: {a: rule:math\ntotal: a", "line 2", "not valid YAML"),
])
def test_bad_specs_fail_at_load_with_the_key_path(tmp_path, text, path, message):
    spec = write(tmp_path, text)
    with pytest.raises(CompositeSpecError) as info:
        load_reward(str(spec))
    assert info.value.path == path, str(info.value)
    assert message in str(info.value) and str(spec) in str(info.value)


def test_include_cycle_between_files(tmp_path):
    write(tmp_path, "rewards: {b: b.yaml}\ntotal: b\n", "a.yaml")
    write(tmp_path, "rewards: {a: a.yaml}\ntotal: a\n", "b.yaml")
    with pytest.raises(CompositeSpecError, match="include cycle"):
        load_reward(str(tmp_path / "a.yaml"))


def test_documented_example_spec_runs():
    """examples/composite_reward.yaml, as shown in docs/composition.md, with the embedded MiniLM."""
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "examples" / "composite_reward.yaml"
    reward = load_reward(str(spec))
    right, wrong = reward.score([
        Sample("What is 6*7?", "<think>6*7 = 42</think><answer>The answer is 42</answer>", reference="42"),
        Sample("What is 6*7?", "<think>6*7 = 48</think><answer>The answer is 48</answer>", reference="42"),
    ])
    assert -3 <= right.components["rm"] <= 3  # z-normalised and clipped
    assert right.value == pytest.approx(1.0 + 0.2 + 0.1 * right.components["rm"] + 0.0)
    assert wrong.value == pytest.approx(0.0 + 0.2 + 0.0)
    assert "rm" not in wrong.components  # gated off: the model never scored the wrong answer

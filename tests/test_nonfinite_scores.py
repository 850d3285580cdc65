"""±inf scores are failures, like NaN: `Score.ok` says so, the runner counts them with a reason, and the
diagnostics drop them instead of crashing (inf - inf is NaN, which used to index a negative calibration bin)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rewardlab.evaluate import diagnostics as diag
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_values_are_not_ok(value):
    score = Score(value)
    assert not score.ok
    assert score.failure_reason == ("NaN score" if math.isnan(value) else f"non-finite score {value}")
    assert Score(1.0).ok and Score(1.0).failure_reason is None
    assert Score.failure("timed out").failure_reason == "timed out"


def test_calibration_and_reward_stats_drop_infinite_pairs():
    chosen = np.array([np.inf, 1.0, 2.0, -np.inf])
    rejected = np.array([np.inf, 0.0, 3.0, 0.0])
    cal = diag.calibration(chosen, rejected)
    assert cal["n"] == 4  # two finite pairs, each with its mirror
    finite = diag.calibration(chosen[1:3], rejected[1:3])
    assert cal["ece"] == finite["ece"] and cal["brier"] == finite["brier"]
    stats = diag.reward_stats(chosen, rejected)
    assert stats["chosen"]["n"] == 2 and stats["rejected"]["n"] == 3 and stats["n"] == 2
    assert all(math.isfinite(x) for x in stats["histogram"]["edges"])


def test_calibration_from_probs_refuses_values_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"probabilities must lie in \[0, 1\]"):
        diag.calibration_from_probs(np.array([0.5, np.nan]), np.array([1.0, 0.0]))


class InfiniteOnMarker:
    """A real reward that overflows: +inf for responses containing 'BIG', -inf for 'SMALL', else length."""

    name = "test:overflow"

    def score(self, samples):
        def value(text: str) -> float:
            return math.inf if "BIG" in text else -math.inf if "SMALL" in text else float(len(text))

        return [Score(value(s.response)) for s in samples]


def test_runner_counts_infinite_scores_as_failures(tmp_path):
    rows = [{"id": "1", "prompt": "p", "chosen": "BIG", "rejected": "BIG too"},
            {"id": "2", "prompt": "p", "chosen": "longer", "rejected": "SMALL"},
            {"id": "3", "prompt": "p", "chosen": "long one", "rejected": "short"},
            {"id": "4", "prompt": "p", "chosen": "ab", "rejected": "abc"}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    results = run(EvalConfig(reward="test:overflow", benches=[str(path)], out=tmp_path / "out", report=False,
                             progress=False), reward=InfiniteOnMarker())
    metrics = results["benchmarks"]["pairs.jsonl"]["metrics"]
    assert metrics["failures"]["failed"] == 2
    assert metrics["failures"]["reasons"] == {"non-finite score inf": 1, "non-finite score -inf": 1}
    assert metrics["primary"]["value"] == 0.5 and metrics["primary"]["scored"] == 2
    assert metrics["calibration"]["n"] == 4
    items = [json.loads(line) for line in (tmp_path / "out" / "items.jsonl").read_text().splitlines()]
    assert items[0]["scores"] == [None, None] and items[0]["error"] == "non-finite score inf"

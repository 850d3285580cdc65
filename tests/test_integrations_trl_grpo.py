"""A real TRL GRPOTrainer run with rewardlab reward functions (sync and async), through the example script."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trl_grpo_rule_reward.py"


@pytest.mark.slow
def test_grpo_trainer_runs_with_rewardlab_reward_funcs(tmp_path):
    pytest.importorskip("trl")
    spec = importlib.util.spec_from_file_location("trl_grpo_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    # Short completions and a character-count overlong penalty that starts at 10 characters, so the
    # untrained policy's completions get different rewards within a group and the gradient is not zero.
    from rewardlab.testing import tiny_llama

    # An untrained ~100k-parameter Llama: the run checks the plumbing, not learning (the example's output
    # in docs/composition.md shows the synth world's small policy).
    policy = tiny_llama(tmp_path / "policy")
    history = example.run(tmp_path, steps=2, problems=4, policy=policy, max_completion_length=12,
                          overlong="rule:overlong,max=60,cache=50,unit=chars")
    assert [entry["step"] for entry in history] == [1, 2]
    for entry in history:
        assert math.isfinite(entry["rewards/rule_math/mean"]) and math.isfinite(entry["rewards/overlong/mean"])
        assert entry["rule_math/failures"] == 0.0 and entry["overlong/failures"] == 0.0
        assert -1.0 <= entry["rewards/overlong/mean"] < 0.0
    assert any(entry["grad_norm"] > 0 for entry in history)

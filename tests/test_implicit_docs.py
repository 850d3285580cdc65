"""The implicit-reward example in docs/implicit.md runs, and the ``process:implicit`` route reaches the
implicit PRM."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rewardlab import load_reward
from rewardlab.types import Sample

REPO = Path(__file__).resolve().parents[1]


def test_example_runs(tmp_path):
    spec = importlib.util.spec_from_file_location("implicit_example", REPO / "examples" / "implicit_reward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main(tmp_path)
    assert len(result["outcome"]) == 1 and len(result["steps"]) == 2
    assert sum(result["steps"]) == pytest.approx(result["outcome"][0], abs=1e-5)


def test_process_family_routes_to_the_implicit_prm(tmp_path):
    from rewardlab.testing import tiny_llama

    policy, ref = tiny_llama(tmp_path / "p", seed=1), tiny_llama(tmp_path / "r", seed=2)
    reward = load_reward(f"process:implicit,policy={policy},ref={ref},cache=none")
    direct = load_reward(f"implicit:policy={policy},ref={ref},cache=none,steps=true")
    sample = Sample("q", " step one\n\nstep two")
    assert reward.score([sample])[0].steps == pytest.approx(direct.score([sample])[0].steps, abs=1e-6)

"""The example in docs/prm.md runs as written."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "prm_train_and_score.py"


@pytest.mark.slow
def test_prm_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), str(tmp_path)])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    printed = capsys.readouterr().out
    assert "trained 4 steps on" in printed and "step scores:" in printed
    assert (tmp_path / "prm" / "config.json").exists() and (tmp_path / "prm" / "rewardlab_train.json").exists()

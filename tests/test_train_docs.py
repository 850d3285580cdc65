"""The training docs' example runs as written (on the tiny BERT, to stay fast)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_train_example_runs(tmp_path, tiny_bert_dir, capsys):
    spec = importlib.util.spec_from_file_location("train_example", REPO / "docs" / "examples" / "train_reward_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    record = module.main(model=str(tiny_bert_dir), out=tmp_path, epochs=2)
    assert record["eval"]["pairs"] == 32 and record["steps"] == 24
    assert (tmp_path / "rm" / "model.safetensors").exists()
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "right answer" in printed

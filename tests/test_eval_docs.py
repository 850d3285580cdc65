"""The evaluation docs' example runs as written (with a tiny real model instead of MiniLM, for speed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "evaluate_pairs.py"


def test_docs_example_runs(tmp_path, tiny_bert_dir, capsys):
    spec = importlib.util.spec_from_file_location("evaluate_pairs", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(f"classifier:{tiny_bert_dir}", tmp_path)
    assert results["summary"]["pairs.jsonl"]["records"] == 3
    assert (tmp_path / "run" / "report.html").exists() and (tmp_path / "run" / "results.json").exists()
    assert "accuracy (strict)" in capsys.readouterr().out
    assert "rewardlab eval" in (Path(EXAMPLE).parents[1] / "evaluation.md").read_text()

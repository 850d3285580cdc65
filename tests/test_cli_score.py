"""`rewardlab score` end to end through the real CLI: pairwise and sample files, errors as one clear line."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from rewardlab.cli import app

runner = CliRunner()


def test_scores_real_hh_rlhf_pairs(shared_file, tiny_bert_dir, tmp_path):
    data = shared_file("hh-rlhf/harmless-base/test.jsonl.gz")
    out = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["score", "--reward", f"classifier:{tiny_bert_dir}", "--data", str(data),
                                 "--out", str(out), "--limit", "40", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 40
    assert rows[0]["source"].endswith("test.jsonl.gz:1")
    assert all(isinstance(r["chosen_score"], float) and isinstance(r["rejected_score"], float) for r in rows)
    assert "accuracy" in result.output


def test_scores_plain_samples_with_custom_keys(tiny_bert_dir, tmp_path):
    data = tmp_path / "samples.jsonl"
    data.write_text("\n".join(json.dumps({"q": f"question {i}", "a": f"answer {i}"}) for i in range(5)) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["score", "--reward", f"classifier:{tiny_bert_dir}", "--data", str(data),
                                 "--out", str(out), "--prompt-key", "q", "--response-key", "a", "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"].rsplit(":", 1)[1] for r in rows] == ["1", "2", "3", "4", "5"]
    assert all(r["error"] is None and isinstance(r["score"], float) for r in rows)


def test_bad_row_is_one_clear_line_naming_file_line_field(tiny_bert_dir, tmp_path):
    data = tmp_path / "pairs.jsonl"
    data.write_text(json.dumps({"prompt": "p", "chosen": "c", "rejected": "r"}) + "\n"
                    + json.dumps({"prompt": "p", "chosen": 3, "rejected": "r"}) + "\n")
    proc = subprocess.run([sys.executable, "-m", "rewardlab.cli", "score", "--reward",
                           f"classifier:{tiny_bert_dir}", "--data", str(data), "--out", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "pairs.jsonl:line 2" in proc.stderr and "chosen" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.jsonl").exists()

"""``rewardlab eval`` and ``rewardlab compare`` from the command line, including the bad-input messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli import app
from rewardlab.evaluate.compare import compare_runs
from rewardlab.evaluate.runner import EvalConfig, run
from rewardlab.types import Score

RB1_ROWS = [
    {"id": "1", "prompt": "p", "chosen": "long answer", "rejected": "short", "subset": "alpacaeval-easy"},
    {"id": "2", "prompt": "p", "chosen": "ab", "rejected": "abc", "subset": "alpacaeval-easy"},
    {"id": "3", "prompt": "p", "chosen": "xxxx", "rejected": "yyyy", "subset": "mt-bench-hard"},
    {"id": "4", "prompt": "p", "chosen": "zzzzzz", "rejected": "z", "subset": "mt-bench-hard"},
    {"id": "5", "prompt": "p", "chosen": "qq", "rejected": "q", "subset": "mt-bench-hard"},
]


class SignedLength:
    """Reward = sign * number of characters: sign +1 prefers long answers, -1 short ones."""

    def __init__(self, sign: float):
        self.sign, self.name = sign, f"test:length*{sign:+.0f}"

    def score(self, samples):
        return [Score(self.sign * len(s.response)) for s in samples]


@pytest.fixture
def rb1_file(tmp_path) -> Path:
    path = tmp_path / "rb1.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RB1_ROWS), encoding="utf-8")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("REWARDLAB_DEBUG", None)
    command = [sys.executable, "-c", "import sys; from rewardlab.cli import main; sys.argv[0] = 'rewardlab'; main()"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_unknown_benchmark_exits_2_listing_known_ones(tmp_path):
    done = _cli("eval", "--reward", "classifier:minilm", "--bench", "judgebnch", "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stderr
    assert "unknown benchmark 'judgebnch'" in done.stderr and "did you mean 'judgebench'" in done.stderr
    for name in ("hh-rlhf", "rm-bench", "llmbar", "gsm8k-bon"):
        assert name in done.stderr
    assert not (tmp_path / "o").exists()  # failed in the load stage, before any model or output


def test_missing_data_root_exits_2_saying_where_it_looked(tmp_path):
    done = _cli("eval", "--reward", "classifier:minilm", "--bench", "rm-bench", "--data-root", str(tmp_path),
                "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())  # rich may wrap long lines
    assert str(tmp_path / "RM-Bench" / "data") in text and "--data-root" in text and "REWARDLAB_DATA" in text


def test_eval_command_writes_results_and_report(tmp_path, tiny_bert_dir, rb1_file):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "--reward", f"classifier:{tiny_bert_dir}", "--bench", str(rb1_file),
                                      "--out", str(out), "--no-progress", "--bootstrap", "100", "--limit", "4"])
    assert result.exit_code == 0, result.output
    assert "rb1.jsonl" in result.output and "RewardBench" in result.output  # the rich summary table
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["limit"] == 4 and results["settings"]["resamples"] == 100
    assert results["benchmarks"]["rb1.jsonl"]["records"] == 4
    assert (out / "report.html").read_text().count("data:image/png;base64,") >= 5


def test_compare_by_hand(tmp_path, rb1_file):
    for folder, sign in (("long", 1.0), ("short", -1.0)):
        run(EvalConfig(reward=f"length*{sign}", benches=[str(rb1_file)], out=tmp_path / folder, progress=False,
                       report=False), reward=SignedLength(sign))
    out = compare_runs(tmp_path / "long", tmp_path / "short")
    block = out["benchmarks"]["rb1.jsonl"]
    # strict credit, A (longer wins): [1, 0, 0, 1, 1]; B (shorter wins): [0, 1, 0, 0, 0] (pair 3 ties in both)
    assert block["shared"] == 5 and block["only_a"] == 0
    assert block["subsets"]["all"]["diff"] == pytest.approx(3 / 5 - 1 / 5)
    assert block["subsets"]["alpacaeval-easy"]["diff"] == 0.0  # [1, 0] vs [0, 1]
    assert block["subsets"]["mt-bench-hard"]["diff"] == pytest.approx(2 / 3)  # [0, 1, 1] vs [0, 0, 0]
    # d = [0, 1, 1]: a resample is all zeros with probability (1/3)^3 = 1/27 (3.7% > 2.5%, so the CI
    # touches 0), and p = 2 * 1/27 ~ 0.074: not significant on 3 items, as it should be
    hard = block["subsets"]["mt-bench-hard"]
    assert hard["ci_low"] == 0.0 and hard["ci_high"] == 1.0
    assert hard["p_value"] == pytest.approx(2 / 27, abs=0.03)
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "long"), str(tmp_path / "short"),
                                      "--out", str(tmp_path / "cmp.json")])
    assert result.exit_code == 0, result.output
    assert "rb1.jsonl" in result.output and "mt-bench-hard" in result.output
    saved = json.loads((tmp_path / "cmp.json").read_text())
    assert saved["benchmarks"]["rb1.jsonl"]["subsets"]["all"]["n"] == 5


def test_compare_needs_run_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="rewardlab eval --out"):
        compare_runs(tmp_path, tmp_path)

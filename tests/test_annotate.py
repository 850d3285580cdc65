"""``rewardlab annotate``: RAFT SFT data, DPO pairs and a scored copy, in three formats, resumable after a
SIGKILL with no duplicated and no lost row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from rewardlab.cli import app
from rewardlab.search.annotate import AnnotateConfig, Counts, Group, dpo_rows, sft_rows
from rewardlab.types import Score

runner = CliRunner()


def _groups():
    groups = [Group("a", "p1", ["r0", "r1", "r2", "r3"], [None] * 4), Group("b", "p2", ["s0", "s1"], [None] * 2),
              Group("c", "p3", ["t0", "t1", "t2"], [None] * 3)]
    scores = [[Score(0.2), Score(0.9), Score.failure("boom"), Score(0.5)], [Score(0.4), Score(0.4)],
              [Score(0.1), Score(0.3), Score(0.3)]]
    return groups, scores


def test_raft_top_k_and_threshold():
    groups, scores = _groups()
    top2 = sft_rows(groups, scores, AnnotateConfig(sft_top_k=2))
    assert [(r["id"], r["completion"]) for r in top2] == [("a", "r1"), ("a", "r3"), ("b", "s0"), ("b", "s1"),
                                                        ("c", "t1"), ("c", "t2")]
    above = sft_rows(groups, scores, AnnotateConfig(sft_top_k=None, sft_threshold=0.4))
    assert [r["completion"] for r in above] == ["r1", "r3", "s0", "s1"]  # the failed r2 never enters


def test_dpo_best_worst_and_margin_drop_and_count_ties():
    groups, scores = _groups()
    counts = Counts()
    pairs = dpo_rows(groups, scores, AnnotateConfig(pairs="best-worst"), counts)
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("r1", "r0"), ("t1", "t0")]
    assert counts.ties_dropped == 1 and counts.groups_without_pair == 1  # group b: 0.4 vs 0.4
    counts = Counts()
    pairs = dpo_rows(groups, scores, AnnotateConfig(pairs="margin", margin=0.25), counts)
    assert sorted((p["chosen"], p["rejected"]) for p in pairs) == [("r1", "r0"), ("r1", "r3"), ("r3", "r0")]
    assert counts.ties_dropped == 2 and counts.below_margin == 2  # c: t1 = t2, and both beat t0 by only 0.2


def _candidates(path, n, m=4):
    rows = [{"id": f"q{i}", "prompt": f"What is {i} + {i}?",
             "responses": [f"{i} + {i} = {2 * i + d}. The answer is {2 * i + d}." for d in range(m)]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_cli_annotate_writes_every_format_with_provenance(tmp_path, tiny_bert_dir, fmt):
    from rewardlab.data.readers import read_rows

    data, out = _candidates(tmp_path / "c.jsonl", 5), tmp_path / "out"
    result = runner.invoke(app, ["annotate", "--reward", f"classifier:{tiny_bert_dir}", "--data", str(data),
                                 "--out", str(out), "--format", fmt, "--sft-top-k", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "provenance.json").read_text())
    assert record["counts"]["responses"] == 20 and record["counts"]["sft_rows"] == 10
    assert record["counts"]["pairs"] + record["counts"]["ties_dropped"] == 5
    assert record["input_sha256"] and record["reward_fingerprint"].startswith(f"classifier:{tiny_bert_dir}")
    scored = list(read_rows(record["outputs"]["scored"]))
    assert len(scored) == 20 and all(r.data["score"] is not None for r in scored)
    sft = [r.data for r in read_rows(record["outputs"]["sft"])]
    by_id = {}
    for r in scored:
        by_id.setdefault(r.data["id"], []).append(r.data["score"])
    for row in sft:
        assert row["score"] in sorted(by_id[row["id"]], reverse=True)[:2]
    dpo = [r.data for r in read_rows(record["outputs"]["dpo"])]
    for row in dpo:
        assert row["chosen_score"] == max(by_id[row["id"]]) and row["rejected_score"] == min(by_id[row["id"]])
    assert not (out / ".chunks").exists()


def test_sigkill_mid_run_then_resume_loses_and_duplicates_no_row(tmp_path, tiny_bert_dir):
    data = _candidates(tmp_path / "c.jsonl", 400)  # 1600 responses, 400 chunks of 4
    args = ["annotate", "--reward", f"classifier:{tiny_bert_dir}", "--data", str(data), "--chunk-size", "4",
            "--no-progress"]
    reference = tmp_path / "reference"
    assert runner.invoke(app, [*args, "--out", str(reference)]).exit_code == 0

    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rewardlab.cli", *args, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if len(list(out.glob(".chunks/job-*/chunk-*.json"))) >= 5:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"annotate ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (out / "provenance.json").exists()
    left = len(list(out.glob(".chunks/job-*/chunk-*.json")))
    assert 5 <= left < 400

    refused = runner.invoke(app, [*args, "--out", str(out)])
    assert refused.exit_code != 0 and "--resume" in str(refused.exception)
    resumed = runner.invoke(app, [*args, "--out", str(out), "--resume"])
    assert resumed.exit_code == 0, resumed.output
    record = json.loads((out / "provenance.json").read_text())
    assert record["scoring"]["resumed_responses"] >= 4 * left
    rows = [json.loads(line) for line in (out / "scored.jsonl").read_text().splitlines()]
    keys = [(r["id"], r["index"]) for r in rows]
    assert len(keys) == len(set(keys)) == 1600  # no duplicate, no loss
    assert set(keys) == {(f"q{i}", j) for i in range(400) for j in range(4)}
    for name in ("scored.jsonl", "sft.jsonl", "dpo.jsonl"):
        assert (out / name).read_text() == (reference / name).read_text()

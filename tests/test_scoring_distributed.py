"""Scoring and evaluation under ``torchrun`` with 2 CPU processes (gloo) write the bytes one process writes,
and a killed scoring job resumes from its finished chunks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from rewardlab import load_reward
from rewardlab.cli import app
from rewardlab.scoring import ScoringJob, score_samples, scoring_job
from rewardlab.shards import assign_chunks, chunk_bounds
from rewardlab.types import Sample
from train_data import arithmetic_pairs, write_jsonl

TESTS = Path(__file__).resolve().parent
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _one_thread(fn):
    """Run ``fn`` with one torch thread, as each torchrun process runs (OMP_NUM_THREADS=1): same hardware
    and thread count is the condition for bit-identical floats."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def _commands(spec: str, data: Path, root: Path) -> list[list[str]]:
    return [["score", "--reward", spec, "--data", str(data), "--out", str(root / "scores.jsonl"), "--no-progress",
             "--chunk-size", "16"],
            ["eval", "--reward", spec, "--bench", str(data), "--out", str(root / "eval"), "--no-progress",
             "--no-report", "--bootstrap", "200"]]


@pytest.mark.slow
def test_two_gloo_processes_write_what_one_process_writes(tmp_path, tiny_bert_dir):
    data = write_jsonl(tmp_path / "pairs.jsonl", arithmetic_pairs(40, seed=7))  # 80 sequences, 5 chunks
    spec = f"classifier:{tiny_bert_dir}"
    one, two = tmp_path / "one", tmp_path / "two"
    for argv in _commands(spec, data, one):
        result = _one_thread(lambda argv=argv: runner.invoke(app, argv))
        assert result.exit_code == 0, result.output
    plan = tmp_path / "commands.json"
    plan.write_text(json.dumps(_commands(spec, data, two)))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), str(TESTS / "launch_cli.py"), str(plan)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout + done.stderr
    assert "processes" in printed and printed.count("rewardlab score ·") == 1  # only process 0 prints

    assert (two / "scores.jsonl").read_bytes() == (one / "scores.jsonl").read_bytes()
    assert (two / "eval" / "items.jsonl").read_bytes() == (one / "eval" / "items.jsonl").read_bytes()
    r1, r2 = (json.loads((d / "eval" / "results.json").read_text()) for d in (one, two))
    assert r2["summary"] == r1["summary"]
    name = next(iter(r1["benchmarks"]))
    assert r2["benchmarks"][name]["metrics"] == r1["benchmarks"][name]["metrics"]
    assert r2["benchmarks"][name]["scoring"]["sequences"] == 80
    rows = [json.loads(line) for line in (two / "scores.jsonl").read_text().splitlines()]
    assert len(rows) == 40 and all(isinstance(r["chosen_score"], float) for r in rows)
    assert not (two / "scores.jsonl.chunks").exists() and not (two / "eval" / ".chunks").exists()


def test_chunks_are_dealt_by_size_and_boundaries_ignore_the_world():
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    # costs 5, 1, 4, 3: LPT gives rank 0 chunk 0 (5), rank 1 chunk 2 (4) then chunk 3 (3 -> 7), rank 0 chunk 1
    assert assign_chunks([5, 1, 4, 3], 2) == [[0, 1], [2, 3]]
    assert assign_chunks([5, 1, 4, 3], 1) == [[0, 1, 2, 3]]
    assert assign_chunks([1.0], 3) == [[0], [], []]


class Interrupted(Exception):
    pass


class CountingReward:
    """Wraps a real reward; counts the samples it is asked to score and can die after N calls."""

    def __init__(self, inner, die_after: int | None = None):
        self.inner, self.name, self.die_after = inner, inner.name, die_after
        self.calls = self.samples = 0

    def score(self, samples):
        if self.die_after is not None and self.calls >= self.die_after:
            raise Interrupted("killed mid-job")
        self.calls += 1
        self.samples += len(samples)
        return self.inner.score(samples)


def test_killed_job_resumes_from_finished_chunks_with_identical_scores(tmp_path, tiny_bert_dir):
    reward = load_reward(f"classifier:{tiny_bert_dir}")
    rows = arithmetic_pairs(20, seed=2)
    samples = [Sample(r["prompt"], r[side]) for r in rows for side in ("chosen", "rejected")]  # 5 chunks of 8
    reference, _ = score_samples(reward, samples, show_progress=False, chunk=8)
    checkpoint = tmp_path / "chunks"

    dying = CountingReward(reward, die_after=3)
    with pytest.raises(Interrupted), scoring_job(checkpoint):
        score_samples(dying, samples, show_progress=False, chunk=8)
    assert len(list(checkpoint.glob("job-*/chunk-*.json"))) == 3  # left for --resume
    with pytest.raises(FileExistsError, match="--resume"), scoring_job(checkpoint):
        pass

    again = CountingReward(reward)
    with scoring_job(checkpoint, resume=True):
        scores, report = score_samples(again, samples, show_progress=False, chunk=8)
    assert again.samples == 16 and report.resumed == 24  # only the two missing chunks were scored
    assert [s.value for s in scores] == [s.value for s in reference]  # exact: floats reload bit for bit
    assert not checkpoint.exists()  # removed once the job finished

    other = samples[:-1] + [samples[0]]  # different input: another fingerprint, nothing reused
    job = ScoringJob(checkpoint=tmp_path / "c2", resume=True)
    score_samples(CountingReward(reward), samples, show_progress=False, chunk=8, job=job)
    fresh = CountingReward(reward)
    score_samples(fresh, other, show_progress=False, chunk=8, job=job)
    assert fresh.samples == 40


def test_cli_score_refuses_leftover_chunks_then_resumes(tmp_path, tiny_bert_dir):
    data = write_jsonl(tmp_path / "pairs.jsonl", arithmetic_pairs(6, seed=1))
    out = tmp_path / "scores.jsonl"
    args = ["score", "--reward", f"classifier:{tiny_bert_dir}", "--data", str(data), "--out", str(out),
            "--no-progress", "--chunk-size", "4"]
    stale = tmp_path / "scores.jsonl.chunks" / "job-x"
    stale.mkdir(parents=True)
    (stale / "chunk-0000000.json").write_text("{}")
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "--resume" in str(refused.exception) and not out.exists()
    resumed = runner.invoke(app, [*args, "--resume"])  # the stale job's fingerprint matches nothing: rescored
    assert resumed.exit_code == 0, resumed.output
    assert len(out.read_text().splitlines()) == 6 and not stale.exists()

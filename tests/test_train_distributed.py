"""``accelerate launch`` with 2 CPU processes (gloo) follows the single-process loss curve."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from rewardlab.train import bt
from rewardlab.train.config import BTConfig
from train_data import accelerate_command, arithmetic_pairs, cli_flags, write_jsonl


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_the_single_process_loss_curve(tmp_path, tiny_bert_dir):
    pytest.importorskip("accelerate")
    data = write_jsonl(tmp_path / "pairs.jsonl", arithmetic_pairs(64, seed=5))
    # 7 pairs per step: one process gets 4, the other 3; the loss is still the mean over all 7
    settings = {"data": str(data), "model": str(tiny_bert_dir), "batch_size": 7, "learning_rate": 2e-3,
                "max_steps": 8, "log_every": 1, "progress": False}
    single = bt.main(BTConfig(out=str(tmp_path / "one"), **settings))

    command = accelerate_command(_free_port(), "train", "bt", *cli_flags(settings), "--out", str(tmp_path / "two"))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "two" / "rewardlab_train.json").read_text())
    assert record["processes"] == 2 and single["processes"] == 1
    two_losses = [h["loss"] for h in record["history"]]
    one_losses = [h["loss"] for h in single["history"]]
    assert len(two_losses) == len(one_losses) == 8
    assert two_losses == pytest.approx(one_losses, abs=1e-4)
    assert one_losses[-1] < one_losses[0]  # and it is a curve, not a constant

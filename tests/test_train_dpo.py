"""``rewardlab train dpo`` on the shared training machinery: a SIGKILLed run resumes to the weights of an
uninterrupted one, and 2 processes (gloo) follow the single-process loss curve."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from rewardlab.train import dpo
from rewardlab.train.config import build_config
from rewardlab.train.dpo import DPOConfig
from train_data import (
    accelerate_command,
    assert_resumed_equals_reference,
    cli_flags,
    kill_after_checkpoint,
    write_jsonl,
)


def _pairs(n: int, seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        wrong = a + b + rng.choice([-2, -1, 1, 2])
        rows.append({"prompt": f"what is {a} + {b} ?", "chosen": f" the answer is {a + b} .",
                     "rejected": f" the answer is {wrong} .", "id": f"p{i}"})
    return rows


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("policy") / "sft")


def _settings(data, model, out, **extra):
    return {"data": str(data), "model": str(model), "out": str(out), "batch_size": 4, "learning_rate": 5e-3,
            "max_steps": 40, "save_steps": 5, "log_every": 1, "progress": False, **extra}


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path, policy):
    data = write_jsonl(tmp_path / "pairs.jsonl", _pairs(48, seed=1))
    reference = dpo.main(build_config(DPOConfig, None, _settings(data, policy, tmp_path / "ref")))

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "rewardlab.cli", "train", "dpo", *cli_flags(_settings(data, policy, killed))]
    step = kill_after_checkpoint(command, killed, 10)
    assert 10 <= step < 40

    resumed = dpo.main(build_config(DPOConfig, None, _settings(data, policy, killed, resume=True)))
    assert_resumed_equals_reference(reference, resumed, tmp_path / "ref", killed, 40, step)
    assert reference["history"][-1]["loss"] < reference["history"][0]["loss"]
    assert json.loads((killed / "rewardlab_dpo.json").read_text())["reference"] == str(policy.resolve())
    with pytest.raises(ValueError, match=r"beta: 0.1 -> 0.5"):  # a checkpoint is only valid for its settings
        dpo.main(build_config(DPOConfig, None, _settings(data, policy, killed, resume=True, beta=0.5,
                                                         max_steps=45)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_the_single_process_loss_curve(tmp_path, policy):
    pytest.importorskip("accelerate")
    data = write_jsonl(tmp_path / "pairs.jsonl", _pairs(14, seed=2))  # 2 steps an epoch, 4 epochs
    # 7 pairs per step: one process gets 4, the other 3; the loss is still the mean over all 7
    settings = {"data": str(data), "model": str(policy), "batch_size": 7, "learning_rate": 5e-3,
                "max_steps": 8, "log_every": 1, "progress": False}
    single = dpo.main(DPOConfig(out=str(tmp_path / "one"), **settings))
    command = accelerate_command(_free_port(), "train", "dpo", *cli_flags(settings), "--out", str(tmp_path / "two"))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "two" / "rewardlab_train.json").read_text())
    assert record["processes"] == 2 and single["processes"] == 1
    two_losses = [h["loss"] for h in record["history"]]
    one_losses = [h["loss"] for h in single["history"]]
    assert len(two_losses) == len(one_losses) == 8
    assert two_losses == pytest.approx(one_losses, abs=1e-4)
    assert one_losses[-1] < one_losses[0]

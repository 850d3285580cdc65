"""Small real training files for the training tests (written per test into tmp_path)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any


def arithmetic_pairs(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """Sums with a right (chosen) and a wrong (rejected) worked answer; the prompt is shared."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        wrong = a + b + rng.choice([-10, -2, -1, 1, 2, 10])
        rows.append({"prompt": f"What is {a} + {b}?", "chosen": f"{a} + {b} = {a + b}. The answer is {a + b}.",
                     "rejected": f"{a} + {b} = {wrong}. I think the answer is {wrong}.", "id": f"q{i}"})
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def cli_flags(settings: dict[str, Any]) -> list[str]:
    """Config settings as ``rewardlab train`` flags (``batch_size=4`` -> ``--batch-size 4``)."""
    flags: list[str] = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return flags


def kill_after_checkpoint(command: list[str], out: Path, min_step: int, timeout: float = 240) -> int:
    """Start a training command, SIGKILL it once OUT holds a checkpoint of at least ``min_step``, and
    return the step of the latest complete checkpoint (the run must really have died mid-way)."""
    import os
    import signal
    import subprocess
    import time

    from rewardlab.train.checkpoint import latest_checkpoint

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        last = latest_checkpoint(out)
        if last is not None and int(last.name.split("-")[1]) >= min_step:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "rewardlab_train.json").exists()  # it really died mid-run
    return int(latest_checkpoint(out).name.split("-")[1])


def accelerate_command(port: int, *cli: str) -> list[str]:
    """``accelerate launch`` of 2 CPU processes (gloo) running ``rewardlab CLI...``; accelerate's flag for
    several processes is --multi_gpu even on CPU."""
    import sys

    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--main_process_port", str(port), "-m", "rewardlab.cli", *cli]


def assert_resumed_equals_reference(reference: dict[str, Any], resumed: dict[str, Any], ref_dir: Path,
                                    resumed_dir: Path, steps: int, killed_at: int) -> None:
    """A run killed at ``killed_at`` and resumed ends where the uninterrupted one did: same step count,
    same weights and loss curve within 1e-6, and a log with every step once (lines written after the
    checkpoint were replaced, not duplicated)."""
    import pytest
    import torch
    from safetensors.torch import load_file

    assert resumed["steps"] == steps and resumed["steps_this_run"] == steps - killed_at
    ref_w, res_w = load_file(ref_dir / "model.safetensors"), load_file(resumed_dir / "model.safetensors")
    assert ref_w.keys() == res_w.keys()
    for name, tensor in ref_w.items():
        assert torch.allclose(res_w[name], tensor, atol=1e-6), name
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in reference["history"]],
                                                                    abs=1e-6)
    log = [json.loads(line) for line in (resumed_dir / "train_log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in log] == list(range(1, steps + 1))

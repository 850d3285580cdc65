"""Resumable checkpoints: weights (safetensors), optimizer, scheduler, RNG streams and the data position.

A checkpoint is a folder ``OUT/checkpoints/step-N`` holding ``model.safetensors``, ``optimizer.pt``,
``scheduler.pt``, one ``rng-rank{R}.pt`` per process and ``state.json`` (step, epoch, steps done in the
epoch, the log so far). It is written into a hidden temp folder beside it and renamed into place, so a
process killed at any instant (SIGKILL included) leaves either the previous checkpoint or the new one,
never half of one. The data order is a pure function of (seed, epoch), so the position is three integers.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINTS = "checkpoints"
STATE = "state.json"
WEIGHTS = "model.safetensors"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def checkpoint_root(out: str | Path) -> Path:
    return Path(out) / CHECKPOINTS


def rng_state() -> dict[str, Any]:
    """Every random stream training touches (python, numpy, torch CPU and CUDA), in a torch-loadable form."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": _listify(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_tuplify(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out: str | Path, step: int, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], rank: int = 0, barrier=None, keep: int = 2) -> Path:
    """Write ``OUT/checkpoints/step-{step}`` atomically; every process calls this (each saves its RNG).

    ``barrier`` (e.g. ``accelerator.wait_for_everyone``) synchronises processes around the shared temp
    folder; process 0 writes the weights and optimizer (identical on every data-parallel rank) and renames.
    """
    from safetensors.torch import save_model

    root = checkpoint_root(out)
    final = root / f"step-{step}"
    tmp = root / f".tmp-step-{step}"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _wait(barrier)
    torch.save(rng_state(), tmp / f"rng-rank{rank}.pt")
    if rank == 0:
        save_model(model, str(tmp / WEIGHTS))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    _wait(barrier)
    if rank == 0:
        (tmp / STATE).write_text(json.dumps({**state, "step": step}, indent=1), encoding="utf-8")
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(root)
        prune(root, keep)
    _wait(barrier)
    return final


def latest_checkpoint(out: str | Path) -> Path | None:
    """The complete checkpoint with the highest step (temp folders of a killed write are ignored)."""
    steps = list_checkpoints(checkpoint_root(out))
    return steps[-1] if steps else None


def list_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / STATE).is_file()]
    return [p for _, p in sorted(found)]


def load_checkpoint(path: str | Path, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                    rank: int = 0) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and this rank's RNG; returns the saved training state."""
    from safetensors.torch import load_model

    path = Path(path)
    load_model(model, str(path / WEIGHTS))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    rng_file = path / f"rng-rank{rank}.pt"
    if not rng_file.exists():
        raise FileNotFoundError(f"{path}: no RNG state for process {rank}; resume with the same number of "
                                "processes that wrote the checkpoint")
    set_rng_state(torch.load(rng_file, weights_only=True))
    return json.loads((path / STATE).read_text(encoding="utf-8"))


def prune(root: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _wait(barrier) -> None:
    if barrier is not None:
        barrier()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _listify(value: Any) -> Any:
    return [_listify(v) for v in value] if isinstance(value, (tuple, list)) else value


def _tuplify(value: Any) -> Any:
    return tuple(_tuplify(v) for v in value) if isinstance(value, list) else value

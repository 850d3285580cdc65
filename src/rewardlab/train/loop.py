"""The optimiser-step loop every recipe calls: epochs of seeded steps, checkpoints, resume, progress.

A recipe supplies the number of items, how to cut a step into micro-batches and its loss function; the
loop owns the data position (epoch, steps done in it, global step), so a run killed at any point and
restarted with ``--resume`` replays exactly the steps an uninterrupted run would have taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rewardlab.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from rewardlab.train.config import TrainConfig
from rewardlab.train.monitor import Monitor
from rewardlab.train.runtime import (
    LossFn,
    Runtime,
    accumulate_step,
    epoch_steps,
    make_optimizer,
    optimizer_step,
)


@dataclass
class Trainee:
    """What the loop updates: the (possibly DDP-wrapped) model, its optimiser and schedule."""

    model: Any
    optimizer: Any
    scheduler: Any
    runtime: Runtime

    @property
    def raw_model(self) -> Any:
        return self.runtime.accelerator.unwrap_model(self.model)


@dataclass
class LoopResult:
    steps: int
    steps_this_run: int
    seconds: float
    items_per_second: float
    history: list[dict[str, Any]] = field(default_factory=list)
    unit: str = "items"

    def record(self, processes: int) -> dict[str, Any]:
        """The loop's part of every recipe's run record (``<unit>_per_second``: pairs, samples, ...)."""
        return {"steps": self.steps, "steps_this_run": self.steps_this_run, "train_seconds": self.seconds,
                f"{self.unit}_per_second": self.items_per_second, "processes": processes,
                "history": self.history}


def start_trainee(cfg: TrainConfig, runtime: Runtime, model: Any, total_steps: int) -> tuple[Trainee, dict[str, Any]]:
    """Wrap the model for the processes (DDP or FSDP first, then the optimiser over the wrapped
    parameters), restore a checkpoint on ``--resume``, and start the tracker ``report_to`` names."""
    model = runtime.accelerator.prepare(model)
    optimizer, scheduler = make_optimizer(model, cfg, total_steps)
    trainee = Trainee(model, optimizer, scheduler, runtime)
    state = start_state(cfg, trainee)
    if cfg.report_to != "none":
        runtime.accelerator.init_trackers("rewardlab", config=cfg.model_dump())
    return trainee, state


def start_state(cfg: TrainConfig, trainee: Trainee) -> dict[str, Any]:
    """Fresh position, or the latest checkpoint's (weights, optimiser, schedule and RNG restored) on resume."""
    state: dict[str, Any] = {"epoch": 0, "epoch_step": 0, "step": 0, "history": []}
    if cfg.resume and (last := latest_checkpoint(cfg.out)) is not None:
        state = load_checkpoint(last, trainee.raw_model, trainee.optimizer, trainee.scheduler,
                                trainee.runtime.rank)
        saved, now = state.get("run", {}), run_identity(cfg)
        changed = sorted(k for k in now if k in saved and saved[k] != now[k])
        if changed:
            detail = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in changed)
            raise ValueError(f"--resume from {last}: settings that fix the data order and steps changed "
                             f"({detail}); resume with the original settings or use --overwrite")
    return state


RUN_KEYS = ("data", "eval", "eval_fraction", "model", "seed", "batch_size", "epochs", "max_steps", "max_length",
            "truncation", "inputs", "lora", "learning_rate", "scheduler", "warmup_ratio")


RECIPE_RUN_KEYS = ("heads", "levels", "attributes", "reference", "beta", "label_smoothing", "labels",
                   "last_step_only", "kind", "variant")


def run_identity(cfg: TrainConfig) -> dict[str, Any]:
    """The settings a checkpoint is only valid for (data order, step count, model shape, schedule)."""
    dump = cfg.model_dump()
    return {k: dump[k] for k in (*RUN_KEYS, *RECIPE_RUN_KEYS) if k in dump}


def run_training(cfg: TrainConfig, trainee: Trainee, state: dict[str, Any], n_items: int, total_steps: int,
                 plan: Callable[[list[int]], list[list[int]]], loss_fn: LossFn, unit: str) -> LoopResult:
    """Train from ``state`` to ``total_steps``; ``plan`` splits a process's share of a step into
    micro-batches and ``loss_fn`` returns per-item losses for one micro-batch."""
    runtime = trainee.runtime
    per_epoch = -(-n_items // cfg.batch_size)
    epochs = -(-total_steps // per_epoch)
    monitor = Monitor(runtime, cfg.out, total_steps, state["step"], cfg.log_every, unit, cfg.progress,
                      state["history"])
    trainee.model.train()
    step, start = state["step"], time.perf_counter()
    try:
        for epoch in range(state["epoch"], epochs):
            steps = epoch_steps(n_items, cfg.seed, epoch, cfg.batch_size)
            first = state["epoch_step"] if epoch == state["epoch"] else 0
            for k in range(first, len(steps)):
                if step >= total_steps:
                    break
                sums = accumulate_step(runtime, trainee.model, steps[k], plan, loss_fn)
                optimizer_step(runtime, trainee.model, trainee.optimizer, trainee.scheduler, cfg.max_grad_norm)
                step += 1
                monitor.step(step, epoch, sums, trainee.scheduler.get_last_lr()[0])
                if cfg.save_steps and step % cfg.save_steps == 0 and step < total_steps:
                    save_checkpoint(cfg.out, step, trainee.raw_model, trainee.optimizer, trainee.scheduler,
                                    {"epoch": epoch, "epoch_step": k + 1, "history": monitor.history,
                                     "run": run_identity(cfg)},
                                    runtime.rank, runtime.barrier, cfg.save_total_limit)
    finally:
        monitor.close()
    return LoopResult(step, step - state["step"], time.perf_counter() - start, monitor.throughput(),
                      monitor.history, unit)


def plan_total_steps(cfg: TrainConfig, n_items: int) -> int:
    return cfg.max_steps or cfg.epochs * (-(-n_items // cfg.batch_size))

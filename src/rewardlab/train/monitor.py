"""What a training run shows and records: a live bar (loss, accuracy, items/s, ETA), log lines, trackers.

Only the main process draws or writes. Every ``log_every`` steps a line (step, epoch, loss, accuracy,
learning rate, items/s) goes to OUT/train_log.jsonl, into the run history kept in checkpoints, and to
tensorboard/wandb when ``report_to`` names one (through accelerate's trackers).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

from rewardlab.progress import progress_bar
from rewardlab.train.runtime import LOG_FILE, Runtime, append_log


class Monitor:
    """Accumulates step metrics between log lines and keeps the bar moving."""

    def __init__(self, runtime: Runtime, out: str, total_steps: int, start_step: int, log_every: int,
                 unit: str = "pairs", show: bool = True, history: list[dict[str, Any]] | None = None):
        self.runtime, self.out, self.unit = runtime, out, unit
        self.total, self.log_every = total_steps, log_every
        self.history: list[dict[str, Any]] = list(history or [])
        self._window: dict[str, float] = {}
        self._stack = ExitStack()
        self._bar = None
        self._start = time.perf_counter()
        self._items = 0.0
        if runtime.is_main:
            self._bar = self._stack.enter_context(progress_bar(f"train ({unit})", total_steps,
                                                               enabled=None if show else False))
            if self._bar is not None and start_step:
                self._bar.update(self._bar.task_ids[0], completed=start_step)
            _rewrite_log(out, self.history)

    def step(self, step: int, epoch: int, sums: dict[str, float], lr: float) -> None:
        for key, value in sums.items():
            self._window[key] = self._window.get(key, 0.0) + value
        self._items += sums.get("items", 0.0)
        rate = self._items / max(time.perf_counter() - self._start, 1e-9)
        if self._bar is not None:
            items = max(sums.get("items", 0.0), 1.0)
            acc = f" acc {sums['correct'] / items:.3f}" if "correct" in sums else ""
            self._bar.update(self._bar.task_ids[0], advance=1,
                             rate=f"loss {sums['loss'] / items:.4f}{acc} {rate:,.1f} {self.unit}/s")
        if step % self.log_every == 0 or step == self.total:
            self._flush(step, epoch, lr, rate)

    def _flush(self, step: int, epoch: int, lr: float, rate: float) -> None:
        items = max(self._window.get("items", 0.0), 1.0)
        line = {"step": step, "epoch": epoch, "loss": self._window.get("loss", 0.0) / items, "lr": lr,
                f"{self.unit}_per_s": rate}
        if "correct" in self._window:
            line["accuracy"] = self._window["correct"] / items
        self._window = {}
        self.history.append(line)
        if self.runtime.is_main:
            append_log(self.out, [line])
            if self.runtime.accelerator.trackers:
                self.runtime.accelerator.log({k: v for k, v in line.items() if k != "step"}, step=step)

    def throughput(self) -> float:
        return self._items / max(time.perf_counter() - self._start, 1e-9)

    def close(self) -> None:
        self._stack.close()


def _rewrite_log(out: str, history: list[dict[str, Any]]) -> None:
    """Make the log match the history being resumed (drop lines written after the last checkpoint)."""
    from pathlib import Path

    path = Path(out) / LOG_FILE
    if path.exists() or history:
        path.unlink(missing_ok=True)
        if history:
            append_log(out, history)

"""The process group as one process sees it, for training and offline jobs alike, through `accelerate`.

``torchrun --nproc-per-node N`` or ``accelerate launch --num_processes N`` start N copies of a command;
`accelerate` reads their environment and joins the process group (gloo on CPU, NCCL on CUDA, one GPU per
process). Training wraps an `accelerate.Accelerator` (DDP, mixed precision, trackers); offline scoring
needs only the group, so it wraps the lighter `accelerate.PartialState`. Both expose the same attributes,
so `Runtime` is one class for both. Started without a launcher, everything here is a single process
and no process group is created.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

LAUNCH_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


@dataclass
class Runtime:
    """The process group as seen from one process (``accelerator``: an Accelerator or a PartialState)."""

    accelerator: Any
    device: torch.device

    @property
    def rank(self) -> int:
        return self.accelerator.process_index

    @property
    def world(self) -> int:
        return self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.accelerator.is_main_process

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def all_gather(self, obj: Any) -> list[Any]:
        """Every process's ``obj`` (picklable), in rank order, on every process."""
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return gather_object([obj])


def launched_processes() -> int:
    """How many processes the launcher started (1 when the command was run directly)."""
    for name in LAUNCH_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def join_processes(device: str | None = None) -> Runtime:
    """Join the launcher's process group for an offline job (scoring, evaluation, annotation).

    On CUDA each process takes the GPU of its local rank (``cuda`` then means that GPU); on CPU the group
    runs on gloo. A single process gets a one-process runtime without creating any group.
    """
    from accelerate import PartialState

    from rewardlab.engine.loading import pick_device

    cpu = pick_device(device).type == "cpu"
    state = PartialState(cpu=cpu)
    return Runtime(state, state.device)

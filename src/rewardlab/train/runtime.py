"""Components every recipe calls: processes, model and optimiser set-up, one optimiser step, saving.

Distributed runs use `accelerate` (``accelerate launch --num_processes 2`` on CPU runs on gloo): the model
is wrapped in DDP by ``accelerator.prepare``; each step's items are dealt round-robin to the processes and
each process's loss is scaled by ``world / items_in_step``, so DDP's gradient average is exactly the mean
over the whole step, whatever the split. Micro-batches inside a step accumulate under ``no_sync`` and only
the last one all-reduces, so processes may hold different numbers of micro-batches.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch

from rewardlab.distributed import Runtime
from rewardlab.engine.loading import load_tokenizer, pick_device, quiet_transformers, resolve_model_path
from rewardlab.io import write_json
from rewardlab.train.checkpoint import latest_checkpoint
from rewardlab.train.config import ConfigError, TrainConfig

TRAIN_RECORD = "rewardlab_train.json"
LOG_FILE = "train_log.jsonl"


def start_runtime(cfg: TrainConfig) -> Runtime:
    """Create the `accelerate.Accelerator` (single process unless started by ``accelerate launch``)."""
    from accelerate import Accelerator

    quiet_transformers()
    if cfg.report_to != "none" and importlib.util.find_spec(cfg.report_to) is None:
        raise ConfigError(f"report_to={cfg.report_to} needs the {cfg.report_to} package: pip install {cfg.report_to}")
    device = pick_device(cfg.device)
    # fp32 on CPU (no bf16 units here); bf16 autocast over fp32 weights on GPUs that have it
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision="bf16" if bf16 else "no",
                              log_with=None if cfg.report_to == "none" else cfg.report_to, project_dir=cfg.out)
    return Runtime(accelerator, accelerator.device)


def prepare_output(cfg: TrainConfig, runtime: Runtime) -> Path:
    """Refuse to clobber a finished run: OUT must be empty, or ``--resume`` / ``--overwrite`` given."""
    out = Path(cfg.out)
    busy = out.exists() and any(out.iterdir())
    if busy and not (cfg.resume or cfg.overwrite):
        raise FileExistsError(f"{out} exists and is not empty; pass --resume to continue its checkpoints or "
                              "--overwrite to replace it")
    if busy and cfg.resume and latest_checkpoint(out) is None:
        raise FileNotFoundError(f"--resume: {out} has no checkpoint to continue (checkpoints/step-N, written "
                                "with --save-steps); pass --overwrite to start again")
    runtime.barrier()
    if runtime.is_main:
        if busy and cfg.overwrite and not cfg.resume:
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
    runtime.barrier()
    return out


def load_tokenizer_and_config(cfg: TrainConfig) -> tuple[Any, Any]:
    """The backbone's tokenizer and config (cheap), so data can be encoded and checked before the weights load."""
    from transformers import AutoConfig

    path = resolve_model_path(cfg.model)
    return load_tokenizer(path), AutoConfig.from_pretrained(path)


def load_model(cfg: TrainConfig, tokenizer: Any, num_labels: int, labels: Sequence[str],
               head: dict[str, Any]) -> Any:
    """Backbone + fresh head (seeded by ``cfg.seed``), dropout off if asked, LoRA if asked; fp32."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights newly initialised": expected, the head is new
    try:
        torch.manual_seed(cfg.seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            resolve_model_path(cfg.model), num_labels=num_labels, dtype=torch.float32,
            ignore_mismatched_sizes=True, id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)})
    finally:
        hf_logging.set_verbosity(level)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    model.config.rewardlab_head = head
    if cfg.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return apply_lora(model, cfg) if cfg.lora else model


def apply_lora(model: Any, cfg: TrainConfig) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                      lora_dropout=cfg.lora_dropout, target_modules=cfg.lora_target_modules)
    return get_peft_model(model, lora)


def make_optimizer(model: Any, cfg: TrainConfig, total_steps: int) -> tuple[Any, Any]:
    """AdamW over trainable parameters (no decay on biases and norms) and the warm-up/decay schedule."""
    from transformers import get_scheduler

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    try:  # the fused kernel runs on CPU too (torch >= 2.4) and saves the per-tensor loop
        optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate, fused=True)
    except (RuntimeError, TypeError):
        optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate)
    warmup = int(cfg.warmup_ratio * total_steps)
    scheduler = get_scheduler(cfg.scheduler if cfg.scheduler != "constant" else "constant_with_warmup",
                              optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
    return optimizer, scheduler


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The data order of one epoch: a pure function of (seed, epoch), so resuming needs no sampler state."""
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=generator).tolist()


def epoch_steps(n: int, seed: int, epoch: int, batch_size: int) -> list[list[int]]:
    order = epoch_order(n, seed, epoch)
    return [order[k:k + batch_size] for k in range(0, n, batch_size)]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return (n + batch_size - 1) // batch_size


LossFn = Callable[[list[int]], tuple[torch.Tensor, dict[str, float]]]
"""Given item indices, returns per-item losses (n,) and summed metrics (e.g. ``{"correct": 3.0}``)."""


def accumulate_step(runtime: Runtime, model: Any, step: Sequence[int], plan: Callable[[list[int]], list[list[int]]],
                    loss_fn: LossFn) -> dict[str, float]:
    """Forward/backward one optimiser step's items on this process; returns the step's metrics summed
    over all processes (``loss`` is the sum of per-item losses, ``items`` the count).

    A process dealt no item (a step smaller than the world) runs one item at weight 0, so every process
    joins the gradient all-reduce.
    """
    local = list(step[runtime.rank::runtime.world])
    weight = runtime.world / len(step)
    if not local:
        local, weight = [step[0]], 0.0
    batches = plan(local)
    sums: dict[str, float] = {"loss": 0.0, "items": 0.0}
    for k, batch in enumerate(batches):
        sync = k == len(batches) - 1
        context = nullcontext() if sync or runtime.world == 1 else runtime.accelerator.no_sync(model)
        with context:
            losses, metrics = loss_fn(batch)
            runtime.accelerator.backward(losses.sum() * weight)
        if weight:
            sums["loss"] += float(losses.detach().sum())
            sums["items"] += len(batch)
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value
    return reduce_sums(runtime, sums)


def reduce_sums(runtime: Runtime, sums: dict[str, float]) -> dict[str, float]:
    if runtime.world == 1:
        return sums
    keys = sorted(sums)
    tensor = torch.tensor([sums[k] for k in keys], dtype=torch.float64, device=runtime.device)
    total = runtime.accelerator.reduce(tensor, reduction="sum")
    return dict(zip(keys, total.tolist()))


def optimizer_step(runtime: Runtime, model: Any, optimizer: Any, scheduler: Any, max_grad_norm: float) -> float:
    """Clip, step, advance the schedule, clear gradients; returns the pre-clip gradient norm."""
    norm = 0.0
    if max_grad_norm > 0:
        norm = float(runtime.accelerator.clip_grad_norm_(model.parameters(), max_grad_norm))
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return norm


def save_reward_model(model: Any, tokenizer: Any, out: str | Path, config_updates: dict[str, Any],
                      record: dict[str, Any]) -> None:
    """Save a plain ``AutoModelForSequenceClassification`` folder (LoRA merged) plus the run record.

    Files are written to a temp folder and moved in one by one with ``os.replace``; ``rewardlab_train.json``
    goes last, so its presence marks a complete model. Checkpoints in OUT/checkpoints are left alone.
    """
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    for key, value in config_updates.items():
        setattr(model.config, key, value)
    out = Path(out)
    tmp = out / ".model-tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for file in sorted(tmp.iterdir()):
        os.replace(file, out / file.name)
    tmp.rmdir()
    write_json(out / TRAIN_RECORD, record)


def append_log(out: str | Path, lines: Sequence[dict[str, Any]]) -> None:
    """Add lines to OUT/train_log.jsonl (a log grows by appending; the record file is the atomic one)."""
    import json

    with open(Path(out) / LOG_FILE, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line) + "\n")


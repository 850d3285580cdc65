"""The optional TRL backend for DPO (``rewardlab train dpo --backend trl``): the same pairs and config,
trained by ``trl.DPOTrainer``.

Kept apart so ``rewardlab.train.dpo`` never imports TRL. On CPU TRL needs ``use_cpu=True`` and
``bf16=False`` (PEERS.md: bf16 trains ~31x slower here). TRL tokenises prompt and completion itself, so
log-probs can differ slightly from the ``implicit:`` reward's tokenisation; our own recipe avoids that,
and only ours resumes from checkpoints and runs under our processes.
"""

from __future__ import annotations

import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from rewardlab.engine.loading import load_tokenizer, pick_device, weights_hash
from rewardlab.train.dpo import DPOConfig
from rewardlab.types import prompt_to_text


def _no_checkpointing(config_class: type) -> dict[str, bool]:
    """Activation checkpointing only slows a tiny CPU run; transformers 5 renamed its flag."""
    names = {f.name for f in fields(config_class)}
    for name in ("activation_checkpointing", "gradient_checkpointing"):
        if name in names:
            return {name: False}
    return {}


def _warmup(config_class: type, ratio: float) -> dict[str, float]:
    """transformers 5 takes a warm-up ratio as a float ``warmup_steps``; older ones as ``warmup_ratio``."""
    names = {f.name for f in fields(config_class)}
    return {"warmup_ratio": ratio} if "warmup_ratio" in names else {"warmup_steps": ratio}


def train_dpo_trl(cfg: DPOConfig) -> dict[str, Any]:
    try:
        from datasets import Dataset
        from trl import DPOConfig as TrlDPOConfig
        from trl import DPOTrainer
    except ImportError as exc:
        raise RuntimeError("backend=trl needs TRL and datasets: pip install trl datasets") from exc
    from transformers import AutoModelForCausalLM

    from rewardlab.rewards.implicit import DPO_RECORD
    from rewardlab.train.dpodata import resolved_model
    from rewardlab.train.pairdata import load_pair_split
    from rewardlab.train.runtime import save_reward_model

    out = Path(cfg.out)
    if out.exists() and any(out.iterdir()) and not cfg.overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass --overwrite to replace it")
    policy = resolved_model(cfg.model)
    if cfg.reference and resolved_model(cfg.reference) != policy:
        raise ValueError("the TRL backend here uses the starting policy as reference; leave --reference unset")
    split = load_pair_split(cfg)
    torch.manual_seed(cfg.seed)
    tokenizer = load_tokenizer(policy)
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=torch.float32)
    rows = [{"prompt": prompt_to_text(p.prompt), "chosen": p.chosen, "rejected": p.rejected} for p in split.train]
    on_cpu = pick_device(cfg.device).type == "cpu"
    with tempfile.TemporaryDirectory() as scratch:
        args = TrlDPOConfig(
            output_dir=scratch, beta=cfg.beta, learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs,
            max_steps=cfg.max_steps or -1, per_device_train_batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, seed=cfg.seed,
            max_length=cfg.max_length, label_smoothing=cfg.label_smoothing, lr_scheduler_type=cfg.scheduler,
            **_warmup(TrlDPOConfig, cfg.warmup_ratio), use_cpu=on_cpu, bf16=False, report_to=[], save_strategy="no",
            logging_steps=1, disable_tqdm=True, **_no_checkpointing(TrlDPOConfig),
        )
        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer)
        trainer.train()
        history = [{k: float(v) for k, v in log.items() if isinstance(v, (int, float))}
                   for log in trainer.state.log_history]
    from rewardlab.io import write_json

    record = {"recipe": "dpo", "config": cfg.model_dump(), "reference": policy,
              "reference_sha256": weights_hash(policy), "beta": cfg.beta, "loss": "sigmoid",
              "label_smoothing": cfg.label_smoothing, "backend": "trl", "history": history,
              "train_pairs": len(rows), "bad_records": split.bad.counts(), "processes": 1}
    if out.exists() and cfg.overwrite:
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / DPO_RECORD, record)
    save_reward_model(trainer.model, tokenizer, out, {}, record)
    return record

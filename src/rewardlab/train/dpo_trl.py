"""The optional TRL backend for DPO: the same pairs and config, trained by ``trl.DPOTrainer``.

Kept apart so ``rewardlab.train.dpo`` never imports TRL. On CPU TRL needs ``use_cpu=True`` and
``bf16=False`` (PEERS.md: bf16 trains ~31x slower here). TRL tokenises prompt and completion itself, so
log-probs can differ slightly from the ``implicit:`` reward's tokenisation; our own recipe avoids that.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from pathlib import Path

import torch

from rewardlab.engine.loading import load_tokenizer, pick_device, weights_hash
from rewardlab.train.dpo import DPOConfig, DPOResult, save_atomically
from rewardlab.types import PairRecord, prompt_to_text


def _no_checkpointing(config_class: type) -> dict[str, bool]:
    """Activation checkpointing only slows a tiny CPU run; transformers 5 renamed its flag."""
    names = {f.name for f in fields(config_class)}
    for name in ("activation_checkpointing", "gradient_checkpointing"):
        if name in names:
            return {name: False}
    return {}


def train_dpo_trl(pairs: Sequence[PairRecord], config: DPOConfig) -> DPOResult:
    try:
        from datasets import Dataset
        from trl import DPOConfig as TrlDPOConfig
        from trl import DPOTrainer
    except ImportError as exc:
        raise RuntimeError("backend='trl' needs TRL and datasets: pip install trl datasets") from exc
    from transformers import AutoModelForCausalLM

    out = Path(config.output_dir)
    if out.exists() and any(out.iterdir()) and not config.overwrite:
        raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
    if config.reference and Path(config.reference).resolve() != Path(config.policy).resolve():
        raise ValueError("the TRL backend here uses the starting policy as reference; leave reference unset")
    torch.manual_seed(config.seed)
    tokenizer = load_tokenizer(config.policy)
    model = AutoModelForCausalLM.from_pretrained(config.policy, dtype=torch.float32)
    rows = [{"prompt": prompt_to_text(p.prompt), "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
    on_cpu = pick_device(config.device).type == "cpu"
    with tempfile.TemporaryDirectory() as scratch:
        args = TrlDPOConfig(
            output_dir=scratch, beta=config.beta, learning_rate=config.learning_rate,
            num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
            weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm, seed=config.seed,
            max_length=config.max_length, label_smoothing=config.label_smoothing,
            use_cpu=on_cpu, bf16=False, report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True,
            **_no_checkpointing(TrlDPOConfig),
        )
        trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer)
        trainer.train()
        history = [{k: float(v) for k, v in log.items() if isinstance(v, (int, float))}
                   for log in trainer.state.log_history]
    reference = str(Path(config.policy).resolve())
    record = {"reference": reference, "reference_sha256": weights_hash(reference), "beta": config.beta,
              "loss": "sigmoid", "backend": "trl", "config": asdict(config), "history": history,
              "pairs_used": len(rows), "pairs_dropped": 0}
    save_atomically(config.output_dir, trainer.model, tokenizer, record)
    return DPOResult(output_dir=config.output_dir, history=history, pairs_used=len(rows))

"""Bradley-Terry reward model training: setup, train, save, in that order.

Loss per pair: -log sigma(r_c - r_r - m) + lambda (r_c + r_r)^2 (`losses.bradley_terry_loss`; margin m from
an optional per-pair column, centering as in TRL and *Helping or Herding?*). With ``heads = K > 1`` the
model is an ensemble of K heads on one backbone, each trained on its own Poisson bootstrap of the pairs
and scored as mean, min or mean - k*std (`heads.aggregate`).

Both sides of a pair run in one forward, micro-batched by a token budget inside each optimiser step;
causal backbones run the pair's shared prefix once (`collate`). The saved folder is a plain
``AutoModelForSequenceClassification`` (loads in transformers, TRL, OpenRLHF and as ``classifier:OUT``)
whose config carries ``reward_mean``/``reward_std`` measured on the held-out pairs.

    rewardlab train bt --data pairs.jsonl --out runs/rm [--eval held.jsonl] [--model minilm]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rewardlab.engine.encoding import model_max_length
from rewardlab.rewards.heads import readout
from rewardlab.train.collate import (
    accepts_token_types,
    batch_rows,
    is_causal,
    micro_batches,
    pair_logits,
    should_share,
)
from rewardlab.train.config import BTConfig
from rewardlab.train.loop import plan_total_steps, run_training, start_trainee
from rewardlab.train.losses import bradley_terry_loss, poisson_bootstrap_weights
from rewardlab.train.pairdata import data_report, encode_split, load_pair_split
from rewardlab.train.records import pairwise_accuracy
from rewardlab.train.runtime import (
    load_model,
    load_tokenizer_and_config,
    prepare_output,
    save_reward_model,
    start_runtime,
)

Config = BTConfig


class BTRecipe:
    """setup -> train -> save. Components (losses, batching, loop, checkpoints) are functions it calls."""

    def __init__(self, cfg: BTConfig):
        self.cfg = cfg

    def setup(self) -> None:
        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        self.split = load_pair_split(cfg, cfg.margin_key)  # bad rows are reported before any model loads
        self.tokenizer, hf_config = load_tokenizer_and_config(cfg)
        self.enc = encode_split(cfg, self.split, self.tokenizer, cfg.max_length or model_max_length(
            self.tokenizer, hf_config))  # and a pair that cannot fit the token budget
        prepare_output(cfg, self.runtime)

        labels = ["reward"] if cfg.heads == 1 else [f"head_{k}" for k in range(cfg.heads)]
        head = {"kind": "scalar"} if cfg.heads == 1 else {
            "kind": "ensemble", "aggregate": cfg.aggregate, "k": cfg.aggregate_k}
        model = load_model(cfg, self.tokenizer, cfg.heads, labels, head)
        self.causal, self.use_types = is_causal(model), accepts_token_types(model)
        kept = self.enc.kept_train(self.split)
        self.margins = torch.tensor([p.margin or 0.0 for p in kept], dtype=torch.float32)
        self.weights = None
        if cfg.heads > 1 and cfg.bootstrap:
            self.weights = poisson_bootstrap_weights(len(kept), cfg.heads, torch.Generator().manual_seed(cfg.seed))

        self.total_steps = plan_total_steps(cfg, len(kept))
        self.trainee, self.state = start_trainee(cfg, self.runtime, model, self.total_steps)

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-pair losses (n,) for training pairs ``batch``, and how many of them are ranked right."""
        chosen, rejected, ct, rt = batch_rows(self.enc.train, batch, self.use_types)
        share = should_share(self.cfg.share_prompt, self.causal, chosen, rejected)
        rc, rr = pair_logits(self.trainee.model, chosen, rejected, self.tokenizer.pad_token_id, ct, rt, share)
        losses = bradley_terry_loss(rc, rr, self.margins[batch].to(rc.device), self.cfg.center_coef)
        if self.weights is not None:
            losses = losses * self.weights[batch].to(rc.device)
        correct = float((rc.mean(-1) > rr.mean(-1)).sum())
        return losses.mean(-1), {"correct": correct}

    def train(self) -> None:
        plan = lambda local: micro_batches(local, self.enc.lengths, 2, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.enc.train), self.total_steps,
                                   plan, self.loss, "pairs")

    def evaluate(self) -> tuple[dict[str, Any], np.ndarray]:
        """Held-out pairwise accuracy (Wilson interval) and the reward of every held-out response."""
        model = self.trainee.raw_model
        spec, labels = model.config.rewardlab_head, list(model.config.id2label.values())
        lc, lr, where = self.enc.evaluation_logits(model, self.tokenizer.pad_token_id, self.cfg, self.causal,
                                                   self.use_types)
        vc, vr = readout(lc, spec, labels)[0], readout(lr, spec, labels)[0]
        return {**pairwise_accuracy(vc, vr), "on": where}, np.concatenate([vc, vr])

    def save(self) -> dict[str, Any]:
        cfg, runtime, result = self.cfg, self.runtime, self.result
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            metrics, rewards = self.evaluate()
            stats = {"reward_mean": float(rewards.mean()), "reward_std": float(rewards.std() or 1.0)}
            record = {
                "recipe": "bt", "config": cfg.model_dump(), "eval": metrics, **stats,
                "reward_stats_on": metrics["on"], **data_report(self.split, self.enc),
                **result.record(runtime.world),
            }
            save_reward_model(self.trainee.raw_model, self.tokenizer, cfg.out, stats, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def main(cfg: BTConfig) -> dict[str, Any]:
    """Train a Bradley-Terry reward model as ``cfg`` says; returns the run record (also OUT/rewardlab_train.json)."""
    recipe = BTRecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()

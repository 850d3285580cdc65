"""Ordinal probabilistic reward model (OPRM): setup, train, save.

*Learning Ordinal Probabilistic Reward from Preferences*: the model outputs a distribution p(k | x, y)
over K ordered ratings instead of one uncalibrated score. Trained on preference pairs with
-log P(chosen > rejected), where P(a > b) = sum_{i>j} p_a(i) p_b(j) + 1/2 sum_i p_a(i) p_b(i)
(`losses.ordinal_pair_loss`); rows that also carry a rating (``--chosen-rating-key``: an integer 1..K or a
``[low, high]`` range) add the region-flooding term -log P(rating in range) weighted by ``--flood-coef``.
The reward is the expected rating sum_k k p(k); its variance is reported as ``uncertainty``.

    rewardlab train ordinal --data pairs.jsonl --levels 5 --out runs/oprm
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rewardlab.data import DataError
from rewardlab.data.fields import integer
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
from rewardlab.train.config import OrdinalConfig
from rewardlab.train.loop import plan_total_steps, run_training, start_trainee
from rewardlab.train.losses import expected_rating, ordinal_pair_loss, region_flooding_loss
from rewardlab.train.pairdata import data_report, encode_split, load_pair_split
from rewardlab.train.records import pairwise_accuracy
from rewardlab.train.runtime import (
    load_model,
    load_tokenizer_and_config,
    prepare_output,
    save_reward_model,
    start_runtime,
)

Config = OrdinalConfig


class OrdinalRecipe:
    """setup -> train -> save for a K-rating distribution head."""

    def __init__(self, cfg: OrdinalConfig):
        self.cfg = cfg

    def setup(self) -> None:
        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        self.split = load_pair_split(cfg, cfg.margin_key, self.read_ratings)
        self.tokenizer, hf_config = load_tokenizer_and_config(cfg)
        self.enc = encode_split(cfg, self.split, self.tokenizer, cfg.max_length or model_max_length(
            self.tokenizer, hf_config))
        ratings = [self.split.train_extras[i] for i in self.enc.train.kept]
        self.regions = torch.tensor(ratings, dtype=torch.long).reshape(len(ratings), 4)  # c_lo, c_hi, r_lo, r_hi
        if cfg.flood_coef and not bool((self.regions > 0).any()):
            raise ValueError("flood_coef > 0 but no training row has a rating: set --chosen-rating-key / "
                             "--rejected-rating-key to the fields holding them")
        prepare_output(cfg, self.runtime)

        labels = [f"rating_{k}" for k in range(1, cfg.levels + 1)]
        model = load_model(cfg, self.tokenizer, cfg.levels, labels, {"kind": "ordinal"})
        self.causal, self.use_types = is_causal(model), accepts_token_types(model)
        self.total_steps = plan_total_steps(cfg, len(self.enc.train))
        self.trainee, self.state = start_trainee(cfg, self.runtime, model, self.total_steps)

    def read_ratings(self, row: Any, record: Any) -> list[int]:
        """(chosen low, chosen high, rejected low, rejected high); 0 = no rating on that side."""
        out: list[int] = []
        for key in (self.cfg.chosen_rating_key, self.cfg.rejected_rating_key):
            value = row.data.get(key) if key else None
            if value is None:
                out += [0, 0]
                continue
            if isinstance(value, list) and len(value) == 2:
                low, high = integer(row, key, value[0]), integer(row, key, value[1])
            else:
                low = high = integer(row, key, value)
            if not 1 <= low <= high <= self.cfg.levels:
                raise DataError(f"expected a rating (or [low, high] range) within 1..{self.cfg.levels}, found "
                                f"{value!r}", path=row.path or None, line=row.line, field=key, indexed=row.indexed)
            out += [low, high]
        return out

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-pair -log P(chosen > rejected) (+ flooding on rated sides), (n,)."""
        chosen, rejected, ct, rt = batch_rows(self.enc.train, batch, self.use_types)
        share = should_share(self.cfg.share_prompt, self.causal, chosen, rejected)
        lc, lr = pair_logits(self.trainee.model, chosen, rejected, self.tokenizer.pad_token_id, ct, rt, share)
        losses = ordinal_pair_loss(lc, lr)
        if self.cfg.flood_coef:
            reg = self.regions[batch].to(lc.device)
            flood = region_flooding_loss(lc, reg[:, 0], reg[:, 1]) + region_flooding_loss(lr, reg[:, 2], reg[:, 3])
            losses = losses + self.cfg.flood_coef * flood
        correct = float((expected_rating(lc) > expected_rating(lr)).sum())
        return losses, {"correct": correct}

    def train(self) -> None:
        plan = lambda local: micro_batches(local, self.enc.lengths, 2, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.enc.train), self.total_steps,
                                   plan, self.loss, "pairs")

    def evaluate(self) -> tuple[dict[str, Any], np.ndarray]:
        """Held-out pairwise accuracy of the expected rating, and the mean rating uncertainty."""
        model = self.trainee.raw_model
        lc, lr, where = self.enc.evaluation_logits(model, self.tokenizer.pad_token_id, self.cfg, self.causal,
                                                   self.use_types)
        labels = list(model.config.id2label.values())
        (vc, cc), (vr, cr) = readout(lc, {"kind": "ordinal"}, labels), readout(lr, {"kind": "ordinal"}, labels)
        uncertainty = float(np.mean([c["uncertainty"] for c in cc + cr]))
        return {**pairwise_accuracy(vc, vr), "mean_uncertainty": uncertainty, "on": where}, np.concatenate([vc, vr])

    def save(self) -> dict[str, Any]:
        cfg, runtime, result = self.cfg, self.runtime, self.result
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            metrics, rewards = self.evaluate()
            stats = {"reward_mean": float(rewards.mean()), "reward_std": float(rewards.std() or 1.0)}
            record = {
                "recipe": "ordinal", "config": cfg.model_dump(), "eval": metrics, **stats,
                "reward_stats_on": metrics["on"], **data_report(self.split, self.enc),
                **result.record(runtime.world),
            }
            save_reward_model(self.trainee.raw_model, self.tokenizer, cfg.out, stats, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def main(cfg: OrdinalConfig) -> dict[str, Any]:
    """Train an ordinal (OPRM) reward model; returns the run record (also OUT/rewardlab_train.json)."""
    recipe = OrdinalRecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()

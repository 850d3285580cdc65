"""Multi-attribute regression reward model (HelpSteer2 / SteerLM style): setup, train, save.

Rows are ``prompt, response`` plus one numeric field per attribute named in ``--attributes`` (e.g.
``helpfulness,correctness,coherence,complexity,verbosity``; null = not rated, a missing key is an error).
The model has one head per attribute, trained with sum_a (r_a - s_a)^2 over rated attributes
(`losses.regression_loss`); the saved config names the heads, so ``classifier:OUT`` reports each
attribute as a score component and their mean as the value.

    rewardlab train regression --data rated.jsonl --attributes helpfulness,correctness --out runs/reg
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from rewardlab.data import DataError, FieldKeys
from rewardlab.data.fields import number
from rewardlab.engine.encoding import model_max_length
from rewardlab.rewards.heads import readout
from rewardlab.train.collate import (
    accepts_token_types,
    all_sequence_logits,
    check_budget,
    encode_texts,
    micro_batches,
    sequence_logits,
)
from rewardlab.train.config import RegressionConfig
from rewardlab.train.loop import plan_total_steps, run_training, start_trainee
from rewardlab.train.losses import regression_loss
from rewardlab.train.records import load_samples_checked, split_by_prompt
from rewardlab.train.runtime import (
    load_model,
    load_tokenizer_and_config,
    prepare_output,
    save_reward_model,
    start_runtime,
)

Config = RegressionConfig


class RegressionRecipe:
    """setup -> train -> save, one head per rated attribute."""

    def __init__(self, cfg: RegressionConfig):
        self.cfg = cfg

    def setup(self) -> None:
        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        keys = FieldKeys(prompt_key=cfg.prompt_key, response_key=cfg.response_key)
        samples, targets, self.bad = load_samples_checked(cfg.data, keys, cfg.bad_pairs, self.read_targets)
        self.bad_eval = None
        if cfg.eval:
            held, held_targets, self.bad_eval = load_samples_checked(cfg.eval, keys, cfg.bad_pairs, self.read_targets)
        else:
            tr, he = split_by_prompt(samples, cfg.eval_fraction, cfg.seed)
            samples, targets, held, held_targets = ([samples[i] for i in tr], [targets[i] for i in tr],
                                                    [samples[i] for i in he], [targets[i] for i in he])
        self.tokenizer, hf_config = load_tokenizer_and_config(cfg)
        max_length = cfg.max_length or model_max_length(self.tokenizer, hf_config)
        concat = cfg.inputs == "concat"
        self.train_set = encode_texts(self.tokenizer, samples, max_length, cfg.truncation, concat)
        self.held_set = encode_texts(self.tokenizer, held, max_length, cfg.truncation, concat) if held else None
        if not self.train_set.kept:
            raise ValueError(f"{cfg.data}: every sample was dropped by max_length={max_length}")
        self.lengths = self.train_set.lengths
        check_budget(self.lengths, 1, cfg.batch_tokens,
                     [samples[i].metadata.get("source") or f"sample {i}" for i in self.train_set.kept])
        self.targets = torch.tensor([targets[i] for i in self.train_set.kept], dtype=torch.float32)
        self.held_targets = np.array([held_targets[i] for i in self.held_set.kept]) if self.held_set else None
        prepare_output(cfg, self.runtime)

        model = load_model(cfg, self.tokenizer, len(cfg.attributes), cfg.attributes, {"kind": "attributes"})
        self.use_types = accepts_token_types(model)
        self.total_steps = plan_total_steps(cfg, len(self.targets))
        self.trainee, self.state = start_trainee(cfg, self.runtime, model, self.total_steps)

    def read_targets(self, row: Any, record: Any) -> list[float]:
        """One value per attribute (NaN = not rated); a missing field or a non-number is a `DataError`."""
        values = []
        for name in self.cfg.attributes:
            if name not in row.data:
                raise DataError(f"missing attribute {name!r} (use null for 'not rated')", path=row.path or None,
                                line=row.line, field=name, indexed=row.indexed)
            value = row.data[name]
            values.append(math.nan if value is None else number(row, name, value))
        return values

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-sample summed squared error over rated attributes, (n,)."""
        enc = self.train_set
        types = [enc.token_type_ids[j] for j in batch] if self.use_types and enc.token_type_ids else None
        predicted = sequence_logits(self.trainee.model, [enc.input_ids[j] for j in batch],
                                    self.tokenizer.pad_token_id, types)
        target = self.targets[batch].to(predicted.device)
        mask = ~torch.isnan(target)
        return regression_loss(predicted, torch.nan_to_num(target), mask.float()), {}

    def train(self) -> None:
        plan = lambda local: micro_batches(local, self.lengths, 1, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.targets), self.total_steps,
                                   plan, self.loss, "samples")

    def evaluate(self) -> tuple[dict[str, Any], np.ndarray]:
        """Per-attribute RMSE and Pearson r on the held-out samples (or training samples if none)."""
        enc, targets, where = ((self.held_set, self.held_targets, "eval") if self.held_set and self.held_set.kept
                               else (self.train_set, self.targets.numpy(), "train"))
        model = self.trainee.raw_model
        model.eval()
        logits = all_sequence_logits(model, enc.input_ids, enc.token_type_ids if self.use_types else None,
                                     self.tokenizer.pad_token_id, self.cfg.batch_tokens)
        model.train()
        metrics: dict[str, Any] = {"on": where, "samples": len(enc.kept)}
        for a, name in enumerate(self.cfg.attributes):
            rated = ~np.isnan(targets[:, a])
            p, t = logits[rated, a], targets[rated, a]
            metrics[name] = {"rmse": float(np.sqrt(np.mean((p - t) ** 2))) if rated.any() else math.nan,
                             "pearson": _pearson(p, t), "rated": int(rated.sum())}
        values, _ = readout(logits, {"kind": "attributes"}, self.cfg.attributes)
        return metrics, values

    def save(self) -> dict[str, Any]:
        cfg, runtime, result = self.cfg, self.runtime, self.result
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            metrics, values = self.evaluate()
            stats = {"reward_mean": float(values.mean()), "reward_std": float(values.std() or 1.0)}
            record = {
                "recipe": "regression", "config": cfg.model_dump(), "eval": metrics, **stats,
                "reward_stats_on": metrics["on"], "train_samples": len(self.targets),
                "eval_samples": len(self.held_set.kept) if self.held_set else 0,
                "bad_records": self.bad.counts(), "bad_eval_records": self.bad_eval.counts() if self.bad_eval else {},
                "dropped_too_long": len(self.train_set.dropped), "truncated": self.train_set.truncated,
                **result.record(runtime.world),
            }
            save_reward_model(self.trainee.raw_model, self.tokenizer, cfg.out, stats, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


def main(cfg: RegressionConfig) -> dict[str, Any]:
    """Train a multi-attribute regression reward model; returns the run record (also OUT/rewardlab_train.json)."""
    recipe = RegressionRecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()

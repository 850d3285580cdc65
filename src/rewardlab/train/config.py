"""Typed training configs: one schema for Python, YAML files and command-line flags.

Each recipe has one pydantic model. Its fields are the CLI flags (``learning_rate`` is
``--learning-rate``), the YAML keys and the Python keyword arguments; each field's help text lives once,
in its ``description``. Precedence is defaults < YAML file < flags given on the command line. An unknown
YAML key is an error naming the key (with a "did you mean"), never silently ignored (TRL's parser and
torchtune's ``cfg.get`` both let typos through). Nothing here imports torch, so ``--help`` stays fast.

A recipe module (``rewardlab.train.bt`` etc.) exposes ``Config`` (one of these classes) and
``main(config) -> dict``; `rewardlab.cli.train.RECIPES` maps a name to such a module.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class TrainConfig(BaseModel):
    """Settings every recipe shares: data, backbone, optimisation, batching, checkpoints, logging."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str = Field(description="Training file (jsonl/json/parquet/.gz/HF dataset folder).")
    out: str = Field(description="Output folder: the saved reward model, checkpoints/ and logs.")
    eval: str | None = Field(None, description="Held-out file for accuracy and reward mean/std.")
    eval_fraction: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "Without --eval: hold out this fraction of the training file, split by prompt (no leakage)."))
    model: str = Field("minilm", description="Backbone: 'minilm' (embedded), a local path or a hub id.")
    prompt_key: str = Field("prompt", description="Field holding the prompt.")
    chosen_key: str = Field("chosen", description="Field holding the preferred response.")
    rejected_key: str = Field("rejected", description="Field holding the dispreferred response.")
    epochs: int = Field(1, ge=1, description="Passes over the training data.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps (overrides epochs).")
    learning_rate: float = Field(5e-5, description="Peak learning rate of AdamW; must be > 0.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    scheduler: Literal["linear", "cosine", "constant"] = Field("linear", description="Learning-rate decay.")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of steps spent warming up.")
    max_grad_norm: float = Field(1.0, ge=0.0, description="Gradient clipping norm (0 = off).")
    batch_size: int = Field(16, ge=1, description="Pairs (or samples) per optimiser step, over all processes.")
    batch_tokens: int = Field(2048, ge=16, description=(
        "Padded tokens per forward micro-batch (both sides of a pair count); a step is split to fit."))
    max_length: int | None = Field(None, ge=8, description="Token limit per sequence (default: the model's).")
    truncation: Literal["truncate-left", "truncate-right", "drop", "error"] = Field(
        "truncate-left", description="What to do with sequences over max_length (counts are reported).")
    inputs: Literal["pair", "concat"] = Field("pair", description=(
        "Encode prompt and response as a text pair, or as one concatenated string (as TRL does)."))
    share_prompt: Literal["auto", "on", "off"] = Field("auto", description=(
        "Causal backbones: run the shared prompt prefix of a pair once (KV reuse). auto = when it saves work."))
    disable_dropout: bool = Field(True, description="Turn dropout off (TRL and OpenRLHF do for reward models).")
    seed: int = Field(0, description="Seed for the head, data order and dropout.")
    save_steps: int = Field(0, ge=0, description="Write a resumable checkpoint every N steps (0 = none).")
    save_total_limit: int = Field(2, ge=1, description="Checkpoints kept (older ones are deleted).")
    resume: bool = Field(False, description="Continue from the latest checkpoint in OUT/checkpoints.")
    overwrite: bool = Field(False, description="Replace a non-empty OUT folder instead of refusing.")
    bad_pairs: Literal["error", "skip"] = Field("error", description=(
        "Identical, empty or NaN-margin records: stop with a report (error) or drop them and report (skip)."))
    lora: bool = Field(False, description="Train LoRA adapters (peft) instead of all weights; merged on save.")
    lora_r: int = Field(8, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(16, ge=1, description="LoRA scaling alpha.")
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout.")
    lora_target_modules: list[str] | None = Field(None, description=(
        "Module names to adapt, comma-separated (default: peft's choice for the architecture)."))
    device: str | None = Field(None, description="cpu | cuda | auto (default: cuda when present).")
    log_every: int = Field(10, ge=1, description="Steps between log lines in OUT/train_log.jsonl.")
    report_to: Literal["none", "tensorboard", "wandb"] = Field("none", description="Extra experiment tracker.")
    progress: bool = Field(True, description="Show a live progress bar (loss, accuracy, pairs/s, ETA).")

    @field_validator("learning_rate")
    @classmethod
    def _positive_lr(cls, value: float) -> float:
        if not value > 0 or math.isinf(value):
            raise ValueError(f"learning_rate must be a positive finite number, got {value}: with 0 nothing trains")
        return value

    @field_validator("lora_target_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


class BTConfig(TrainConfig):
    """Bradley-Terry pairwise training (the classic RLHF reward model), optionally a K-head ensemble."""

    margin_key: str = Field("margin", description="Optional per-pair margin field m in -log sigma(r_c - r_r - m).")
    center_coef: float = Field(0.0, ge=0.0, description=(
        "Centering coefficient lambda: adds lambda * mean((r_c + r_r)^2); 0.01 is the usual value."))
    heads: int = Field(1, ge=1, description="Ensemble members as K heads on one backbone (1 = a plain RM).")
    bootstrap: bool = Field(True, description="With heads > 1: weight each pair per head by Poisson(1) (bagging).")
    aggregate: Literal["mean", "min", "mean_minus_std"] = Field("mean", description=(
        "How ensemble heads combine into one reward when scored."))
    aggregate_k: float = Field(1.0, ge=0.0, description="k in mean - k * std.")


class RegressionConfig(TrainConfig):
    """Multi-attribute regression (HelpSteer2 / SteerLM style): one head per rated attribute, MSE."""

    attributes: list[str] = Field(description="Rated attribute fields, comma-separated (one head each).")
    response_key: str = Field("response", description="Field holding the response.")

    @field_validator("attributes", mode="before")
    @classmethod
    def _split_attributes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not value:
            raise ValueError("name at least one attribute")
        if len(set(value)) != len(value):
            raise ValueError(f"attributes repeat a name: {value}")
        return value


class OrdinalConfig(TrainConfig):
    """Ordinal probabilistic reward (OPRM): a distribution over K ratings; the reward is its expectation."""

    levels: int = Field(5, ge=2, le=100, description="Number of ordinal ratings K (ratings 1..K).")
    flood_coef: float = Field(0.0, ge=0.0, description=(
        "Weight of the region-flooding term -log P(rating in annotated region) (needs rating fields)."))
    chosen_rating_key: str | None = Field(None, description="Optional field with the chosen side's rating 1..K.")
    rejected_rating_key: str | None = Field(None, description="Optional field with the rejected side's rating 1..K.")
    margin_key: str = Field("margin", description="Ignored by ordinal training; kept for file compatibility.")


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and what was wrong."""


def build_config(cls: type[TrainConfig], yaml_path: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults < YAML < overrides (flags actually given). Unknown keys and bad values raise `ConfigError`."""
    values: dict[str, Any] = {}
    origin = "arguments"
    if yaml_path is not None:
        values.update(read_yaml(yaml_path))
        origin = str(yaml_path)
    check_keys(cls, values, origin)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    check_keys(cls, values, "arguments")
    try:
        return cls(**values)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, origin)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys, found {type(data).__name__}")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def check_keys(cls: type[TrainConfig], values: dict[str, Any], origin: str) -> None:
    known = list(cls.model_fields)
    for key in values:
        if key not in cls.model_fields:
            hint = difflib.get_close_matches(key, known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{origin}: unknown config key {key!r} for {cls.__name__}{suggestion}")


def describe_errors(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(config)"
        flag = "--" + key.replace("_", "-")
        if err["type"] == "missing":
            lines.append(f"{origin}: missing required setting {key!r} ({flag})")
        else:
            lines.append(f"{origin}: {key} ({flag}): {err['msg']}")
    return "\n".join(lines)

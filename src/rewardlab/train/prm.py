"""Process reward model training on step labels, as any of the three kinds ``process:`` scores: setup,
train, save.

``rewardlab train prm [--kind token|plusminus|scalar]``. The loop, checkpoints (resume), accelerate
processes, progress and the saved-model layout are the shared training components
(`rewardlab.train.loop`, `.runtime`, `.checkpoint`). The step layout is the one the ``process:`` family
scores with (`rewardlab.rewards.process.StepLayout`) and is recorded in the saved config with the kind,
so ``process:OUT`` scores the trained model with no further options. The kinds (`prm_heads`): ``token``
(a 2-label token classifier, TRL's layout, any backbone), ``plusminus`` (a causal LM's next-token
P("+") vs P("-") at each tag, Math-Shepherd; ``--template chat`` gives the RLHFlow layout) and ``scalar``
(a causal sequence classifier's value at each tag; scored raw, as log-odds).

Loss: binary cross-entropy at every labelled step tag on the kind's step logit z (for ``token``,
z = logit_correct - logit_wrong). With hard labels this is exactly TRL's cross-entropy; with
soft Monte-Carlo labels q in [0, 1] it is the BCE that TRL's ``int(label)`` cast makes impossible
(RESEARCH 1.5 and 6). Each solution's loss is the mean over its labelled steps, so every solution
weighs the same. ``--last-step-only`` keeps only the last step's label (TRL
``train_on_last_step_only``); where that step is unlabelled (after a first error) its label is 0,
because a prefix that contains a wrong step cannot be right.

    rewardlab train prm --data steps.jsonl --out runs/prm [--eval held.jsonl] [--labels soft] [--lora]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from rewardlab.rewards.process import CONFIG_KEY, StepLayout, fit_left
from rewardlab.train.config import TrainConfig
from rewardlab.types import StepRecord

PAIR_ONLY = ("chosen_key", "rejected_key", "inputs", "share_prompt", "bad_pairs")


class PRMConfig(TrainConfig):
    """Process reward model training on step-labelled solutions (``prompt, steps, labels | first_error``)."""

    labels: Literal["auto", "hard", "soft"] = Field("auto", description=(
        "auto: labels as in the file; hard: q > 0 -> 1 (Math-Shepherd hard estimation); soft: as given, BCE."))
    last_step_only: bool = Field(False, description="Train only on each solution's last step (outcome supervision).")
    step_tag: str | None = Field(None, description=(
        "Tag after each step whose position the head reads (default '\\n', or the sep token for wordpiece)."))
    kind: Literal["token", "plusminus", "scalar"] = Field("token", description=(
        "PRM kind: token (token-classification head), plusminus (causal LM, next token + vs -), scalar "
        "(causal sequence classifier's value at each tag)."))
    template: Literal["plain", "chat"] = Field("plain", description=(
        "plain: prompt then steps separated by the tag; chat: steps as user turns answered by --plus (RLHFlow)."))
    plus: str = Field("+", description="kind=plusminus (and template=chat): the token meaning 'this step is right'.")
    minus: str = Field("-", description="kind=plusminus: the token meaning 'this step is wrong'.")
    prompt_sep: str = Field("\n", description="Text between the prompt and the first step.")
    step_sep: str = Field("", description="Text between a step tag and the next step.")
    learning_rate: float = Field(5e-5, description="Peak learning rate of AdamW; must be > 0.")
    batch_size: int = Field(8, ge=1, description="Solutions per optimiser step, over all processes.")

    @model_validator(mode="after")
    def _no_pair_settings(self) -> PRMConfig:
        changed = [k for k in PAIR_ONLY if getattr(self, k) != TrainConfig.model_fields[k].default]
        if changed:
            raise ValueError(f"{', '.join(changed)}: pairwise settings do not apply to PRM training")
        if self.truncation not in ("truncate-left", "drop", "error"):
            raise ValueError(f"truncation={self.truncation}: PRMs take truncate-left, drop or error (cutting "
                             "the right end loses steps)")
        return self


Config = PRMConfig


def step_targets(record: StepRecord, mode: str, last_step_only: bool) -> list[float | None]:
    """Per-step training targets (None = ignored) after the hard/soft and last-step-only choices."""
    labels = record.step_labels()
    if mode == "hard":
        labels = [None if q is None else float(q > 0) for q in labels]
    if last_step_only:
        last = labels[-1]
        if last is None:
            last = 0.0 if any(q == 0 for q in labels if q is not None) else None
        labels = [None] * (len(labels) - 1) + [last]
    return labels


def prm_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Elementwise BCE at step tags. logits: (n, 2) [wrong, correct]; targets: (n,) in [0, 1]; returns (n,).

    z = logit_correct - logit_wrong is the log-odds of "correct" under the 2-way softmax, so this equals
    cross-entropy for 0/1 targets and takes soft (Monte-Carlo) targets unchanged.
    """
    return step_bce_loss(logits[:, 1] - logits[:, 0], targets)


def step_bce_loss(z: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE on step logits z (n,) (log-odds of "correct") against targets (n,) in [0, 1]; returns (n,)."""
    return torch.nn.functional.binary_cross_entropy_with_logits(z.float(), targets.float(), reduction="none")


@dataclass
class EncodedSteps:
    """Token rows with the read positions and targets of their labelled steps; skips counted by reason."""

    ids: list[list[int]] = field(default_factory=list)
    reads: list[list[int]] = field(default_factory=list)
    targets: list[list[float]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    truncated: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def encode_records(records: list[StepRecord], tokenizer: Any, layout: StepLayout, cfg: PRMConfig,
                   max_length: int) -> EncodedSteps:
    out = EncodedSteps()
    for k, record in enumerate(records):
        targets = step_targets(record, cfg.labels, cfg.last_step_only)
        ids, reads = layout.encode(tokenizer, record.prompt, record.steps)
        where = record.source or f"record {k}"
        fitted = fit_left(ids, reads, max_length, tokenizer, layout) if cfg.truncation != "drop" else (
            (ids, reads) if len(ids) <= max_length else None)
        if fitted is None or (cfg.truncation == "error" and len(ids) > max_length):
            if cfg.truncation == "error":
                raise ValueError(f"{where}: {len(ids)} tokens > max_length {max_length}; use --truncation "
                                 "truncate-left|drop or raise --max-length")
            out.skip(f"over max_length ({cfg.truncation})")
            continue
        out.truncated += len(fitted[0]) < len(ids)
        kept = [(r, q) for r, q in zip(fitted[1], targets) if q is not None]
        if not kept:
            out.skip("no labelled step")
            continue
        out.ids.append(fitted[0])
        out.reads.append([r for r, _ in kept])
        out.targets.append([q for _, q in kept])
        out.sources.append(where)
    return out


class PRMRecipe:
    """setup -> train -> save. Components (loss, layout, loop, checkpoints) are functions it calls."""

    def __init__(self, cfg: PRMConfig):
        self.cfg = cfg

    def setup(self) -> None:
        from rewardlab.data import FieldKeys, load_steps
        from rewardlab.engine.encoding import model_max_length
        from rewardlab.engine.loading import load_tokenizer, resolve_model_path
        from rewardlab.train.collate import check_budget
        from rewardlab.train.loop import plan_total_steps, start_trainee
        from rewardlab.train.prm_heads import StepReadout, load_step_model, single_token
        from rewardlab.train.records import split_by_prompt
        from rewardlab.train.runtime import prepare_output, start_runtime

        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        keys = FieldKeys(prompt_key=cfg.prompt_key)
        records = load_steps(cfg.data, keys)
        if cfg.eval:
            held = load_steps(cfg.eval, keys)
        else:
            train_idx, held_idx = split_by_prompt(records, cfg.eval_fraction, cfg.seed)
            records, held = [records[i] for i in train_idx], [records[i] for i in held_idx]
        self.held = held
        self.out = prepare_output(cfg, self.runtime)
        path = resolve_model_path(cfg.model)
        self.tokenizer = load_tokenizer(path)
        model = load_step_model(cfg, path, self.tokenizer)
        self.layout = StepLayout(step_tag=cfg.step_tag, prompt_sep=cfg.prompt_sep, step_sep=cfg.step_sep,
                                 template=cfg.template, plus=cfg.plus, minus=cfg.minus).resolved(self.tokenizer)
        ids = [single_token(self.tokenizer, cfg.plus, "plus"), single_token(self.tokenizer, cfg.minus, "minus")] if (
            cfg.kind == "plusminus") else [None, None]
        readout = StepReadout(model, cfg.kind, *ids)
        self.max_length = cfg.max_length or model_max_length(self.tokenizer, model.config)
        self.data = encode_records(records, self.tokenizer, self.layout, cfg, self.max_length)
        if not self.data.ids:
            raise ValueError(f"{cfg.data}: no trainable record ({self.data.skipped or 'the file is empty'})")
        self.lengths = [len(r) for r in self.data.ids]
        check_budget(self.lengths, 1, cfg.batch_tokens, self.data.sources)
        self.total_steps = plan_total_steps(cfg, len(self.data.ids))
        self.trainee, self.state = start_trainee(cfg, self.runtime, readout, self.total_steps)

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-solution losses (n,) for training items ``batch``, and how many steps were classified right."""
        from rewardlab.engine.forward import pad_batch

        device = self.runtime.device
        ids, mask = pad_batch([self.data.ids[i] for i in batch], self.tokenizer.pad_token_id, device)
        owner = torch.tensor([j for j, i in enumerate(batch) for _ in self.data.reads[i]], device=device)
        cols = torch.tensor([r for i in batch for r in self.data.reads[i]], device=device)
        targets = torch.tensor([q for i in batch for q in self.data.targets[i]], device=device)
        z = self.trainee.model(ids, mask, owner, cols)  # the kind's step logits, (steps,)
        per_step = step_bce_loss(z, targets)
        per_item = torch.zeros(len(batch), device=device).index_add(0, owner, per_step)
        counts = torch.bincount(owner, minlength=len(batch)).clamp(min=1)
        right = ((z > 0) == (targets >= 0.5)).float()
        share_right = torch.zeros(len(batch), device=device).index_add(0, owner, right) / counts
        return per_item / counts, {"correct": float(share_right.sum())}  # "accuracy": share of steps right

    def train(self) -> None:
        from rewardlab.train.collate import micro_batches
        from rewardlab.train.loop import run_training

        plan = lambda local: micro_batches(local, self.lengths, 1, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.data.ids), self.total_steps,
                                   plan, self.loss, "solutions")

    def save(self) -> dict[str, Any]:
        from rewardlab.io import write_json
        from rewardlab.train.runtime import TRAIN_RECORD, save_reward_model

        cfg, runtime = self.cfg, self.runtime
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            layout = {"kind": cfg.kind, "step_tag": self.layout.step_tag, "prompt_sep": self.layout.prompt_sep,
                      "step_sep": self.layout.step_sep, "template": self.layout.template, "plus": self.layout.plus,
                      "minus": self.layout.minus}
            record = {"recipe": "prm", "config": cfg.model_dump(), "layout": layout,
                      "train_solutions": len(self.data.ids), "skipped": self.data.skipped,
                      "truncated": self.data.truncated, **self.result.record(runtime.world)}
            model = runtime.accelerator.unwrap_model(self.trainee.model).model
            save_reward_model(model, self.tokenizer, cfg.out, {CONFIG_KEY: layout}, record)
            if self.held:  # scored through `process:OUT`, exactly as users will score it
                record["eval"] = evaluate_prm(cfg.out, self.held, self.max_length)
                write_json(self.out / TRAIN_RECORD, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def main(cfg: PRMConfig) -> dict[str, Any]:
    """Train a PRM as ``cfg`` says; returns the run record (also OUT/rewardlab_train.json)."""
    recipe = PRMRecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()


def evaluate_prm(model_dir: str, records: list[StepRecord], max_length: int | None = None) -> dict[str, float]:
    """Step AUROC, step accuracy at 0.5 and ProcessBench F1 (tau = 0.5, and the best tau on these items)."""
    from rewardlab.evaluate.processbench import choose_threshold, predict_first_error, processbench_metrics, step_auroc
    from rewardlab.rewards.process import ProcessOptions, ProcessReward

    reward = ProcessReward(model_dir, ProcessOptions(max_length=max_length))
    scores = reward.score([r.sample() for r in records])
    steps = [s.steps if s.ok else None for s in scores]
    if reward.kind.value == "scalar":  # raw log-odds: the metrics below read probabilities
        steps = [None if s is None else [1 / (1 + math.exp(-v)) for v in s] for s in steps]
    firsts = [first_error_of(r) for r in records]
    hits = [(p >= 0.5) == (q >= 0.5) for s, r in zip(steps, records) if s is not None
            for p, q in zip(s, r.step_labels()) if q is not None]
    result: dict[str, float] = {"solutions": len(records), "failed": sum(s is None for s in steps),
                                "step_accuracy@0.5": sum(hits) / len(hits) if hits else math.nan,
                                "step_auroc": step_auroc(steps, firsts)}
    at_half = processbench_metrics([predict_first_error(s, 0.5) for s in steps], firsts)
    result.update({f"processbench_{k}@0.5": at_half[k] for k in ("error_acc", "correct_acc", "f1")})
    if any(f == -1 for f in firsts) and any(f != -1 for f in firsts):
        result["best_tau"], result["processbench_f1@best_tau"] = choose_threshold(steps, firsts)
    return result


def first_error_of(record: StepRecord) -> int:
    """The ProcessBench label of a record: its first_error, else the first step labelled below 0.5."""
    if record.first_error is not None:
        return record.first_error
    return next((t for t, q in enumerate(record.step_labels()) if q is not None and q < 0.5), -1)

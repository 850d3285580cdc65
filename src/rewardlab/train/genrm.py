"""Generative reward model (GenRM) training: SFT a causal LM to say whether a response is correct.

``rewardlab train genrm`` (Generative Verifiers, Zhang et al. 2024; the SFT stage of RM-R1, Think-RM and
GenPRM): each row is a prompt, a response, a correct/incorrect label and optionally a critique. The model
reads the ``genrm`` judge protocol's question (``... Is the answer correct (Yes/No)?``) rendered with its
chat template (or as a plain transcript when it has none) and learns to answer ``Yes`` or ``No``, after
``<think>critique</think>`` when the rows carry critiques. Loss: next-token cross-entropy on the target
tokens only (critique, verdict, end of sequence), averaged per row, so every row weighs the same.

The saved folder is an ordinary causal LM that loads as a reward with no further options:
``judge:hf:OUT,protocol=genrm,mode=logprob`` (reward = P(Yes) in one forward) or, for a critique-trained
model, ``judge:hf:OUT,protocol=genrm,variant=critique`` (samples the critique, parses the verdict). The
spec is written to ``OUT/rewardlab_genrm.json`` and ``OUT/README.md``, and held-out rows are scored
through it, exactly as users will score. The loop, checkpoints (``--resume``), ``accelerate launch``
processes and progress are the shared training components.

    rewardlab train genrm --data verdicts.jsonl --model runs/sft --out runs/genrm [--eval held.jsonl]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import Field, model_validator

from rewardlab.train.config import TrainConfig

PAIR_ONLY = ("chosen_key", "rejected_key", "inputs", "share_prompt")
GENRM_RECORD = "rewardlab_genrm.json"


class GenRMConfig(TrainConfig):
    """SFT of a causal LM into a generative verifier on (prompt, response, label[, critique]) rows."""

    model: str = Field(description=("Starting causal LM: a folder, a hub id, or world / world-small / world-tiny "
                                    "(the embedded world's tiny policy)."))
    response_key: str = Field("response", description="Field holding the response being judged.")
    label_key: str = Field("label", description="Field holding correct/incorrect (true/false, 1/0, yes/no).")
    critique_key: str = Field("critique", description="Optional field with a critique written before the verdict.")
    variant: Literal["auto", "direct", "critique"] = Field("auto", description=(
        "direct: verdict only; critique: critique then verdict; auto: critique when every row has one."))
    truncation: Literal["drop", "error"] = Field("error", description=(
        "Rows over max_length: stop (error) or drop and count them (the judge would refuse them too)."))
    learning_rate: float = Field(2e-5, description="Peak learning rate of AdamW; must be > 0.")
    batch_size: int = Field(16, ge=1, description="Rows per optimiser step, over all processes.")

    @model_validator(mode="after")
    def _no_pair_settings(self) -> GenRMConfig:
        changed = [k for k in PAIR_ONLY if getattr(self, k) != TrainConfig.model_fields[k].default]
        if changed:
            raise ValueError(f"{', '.join(changed)}: pairwise settings do not apply to GenRM training")
        return self


Config = GenRMConfig


def judge_spec(out: str | Path, variant: str) -> str:
    """The ``judge:`` reward that scores a GenRM saved in ``out``."""
    if variant == "critique":
        return f"judge:hf:{Path(out).resolve()},protocol=genrm,variant=critique"
    return f"judge:hf:{Path(out).resolve()},protocol=genrm,mode=logprob"


def resolve_start(name: str) -> str:
    """``world`` / ``world-small`` / ``world-tiny`` -> the cached tiny policy's folder; else as the DPO recipe."""
    from rewardlab.generation.hf import WORLD_ALIASES
    from rewardlab.train.dpodata import resolved_model

    if name in WORLD_ALIASES:
        from rewardlab.synth.policy import default_policy

        return str(default_policy(size=WORLD_ALIASES[name], progress=False))
    return resolved_model(name)


def target_losses(logits: torch.Tensor, ids: torch.Tensor, rows: list[list[int]], starts: list[int]) -> torch.Tensor:
    """Mean next-token NLL of each row's target tokens ``rows[j][starts[j]:]``; (n,).

    Only the target positions go through log-softmax (a vocabulary-wide softmax over the prompt too would
    cost memory for nothing)."""
    owner = [j for j, row in enumerate(rows) for _ in range(starts[j], len(row))]
    cols = [t for j, row in enumerate(rows) for t in range(starts[j], len(row))]
    device = logits.device
    owner_t, cols_t = torch.tensor(owner, device=device), torch.tensor(cols, device=device)
    logp = torch.log_softmax(logits[owner_t, cols_t - 1].float(), dim=-1)
    nll = -logp.gather(1, ids[owner_t, cols_t].unsqueeze(1)).squeeze(1)
    counts = torch.bincount(owner_t, minlength=len(rows)).clamp(min=1)
    return torch.zeros(len(rows), device=device).index_add(0, owner_t, nll) / counts


class GenRMRecipe:
    """setup -> train -> save. Components (rows, encoding, loss, loop, checkpoints) are functions it calls."""

    def __init__(self, cfg: GenRMConfig):
        self.cfg = cfg

    def setup(self) -> None:
        from rewardlab.engine.encoding import model_max_length
        from rewardlab.engine.loading import load_tokenizer
        from rewardlab.generation.hf import verdict_token_ids
        from rewardlab.rewards.judge.protocols import make_protocol
        from rewardlab.train.collate import check_budget
        from rewardlab.train.dpo import load_policy
        from rewardlab.train.genrmdata import VERDICTS, check_critiques, encode_rows, load_verdict_rows
        from rewardlab.train.loop import plan_total_steps, start_trainee
        from rewardlab.train.records import split_by_prompt
        from rewardlab.train.runtime import prepare_output, start_runtime

        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        keys = {"prompt": cfg.prompt_key, "response": cfg.response_key, "label": cfg.label_key,
                "critique": cfg.critique_key}
        rows, self.bad = load_verdict_rows(cfg.data, keys, cfg.bad_pairs)  # bad rows: before any model loads
        self.variant = check_critiques(rows, cfg.variant, cfg.data)
        if cfg.eval:
            held, held_bad = load_verdict_rows(cfg.eval, keys, cfg.bad_pairs)
            self.bad.by_kind.update({f"eval {k}": v for k, v in held_bad.by_kind.items()})
        else:
            train_idx, held_idx = split_by_prompt(rows, cfg.eval_fraction, cfg.seed)
            rows, held = [rows[i] for i in train_idx], [rows[i] for i in held_idx]
        self.held = held
        self.protocol = make_protocol("genrm", variant=self.variant)
        self.start = resolve_start(cfg.model)
        self.tokenizer = load_tokenizer(self.start)
        self.out = prepare_output(cfg, self.runtime)
        model = load_policy(cfg, self.start)
        self.max_length = cfg.max_length or model_max_length(self.tokenizer, model.config)
        self.data = encode_rows(rows, self.tokenizer, self.protocol, self.max_length, cfg.truncation)
        if not self.data.ids:
            raise ValueError(f"{cfg.data}: no row fits max_length {self.max_length} ({len(self.data.dropped)} dropped)")
        counted = verdict_token_ids(self.tokenizer, VERDICTS)
        self.yes_ids, self.no_ids = counted["Yes"], counted["No"]
        self.lengths = [len(r) for r in self.data.ids]
        check_budget(self.lengths, 1, cfg.batch_tokens, self.data.sources)
        self.total_steps = plan_total_steps(cfg, len(self.data.ids))
        self.trainee, self.state = start_trainee(cfg, self.runtime, model, self.total_steps)

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-row target NLL (n,), and how many rows the verdict position already gets right
        (P(Yes) > P(No) exactly when the row is correct)."""
        from rewardlab.engine.forward import pad_batch

        data, device = self.data, self.runtime.device
        rows = [data.ids[i] for i in batch]
        ids, mask = pad_batch(rows, self.tokenizer.pad_token_id, device)
        logits = self.trainee.model(input_ids=ids, attention_mask=mask).logits
        losses = target_losses(logits, ids, rows, [data.target_start[i] for i in batch])
        with torch.no_grad():
            at = torch.tensor([data.verdict_at[i] - 1 for i in batch], device=device)
            probs = torch.softmax(logits[torch.arange(len(batch), device=device), at].float(), dim=-1)
            says_yes = probs[:, self.yes_ids].sum(1) > probs[:, self.no_ids].sum(1)
            truth = torch.tensor([data.correct[i] for i in batch], device=device)
        return losses, {"correct": float((says_yes == truth).sum())}

    def train(self) -> None:
        from rewardlab.train.collate import micro_batches
        from rewardlab.train.loop import run_training

        plan = lambda local: micro_batches(local, self.lengths, 1, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.data.ids), self.total_steps,
                                   plan, self.loss, "rows")

    def save(self) -> dict[str, Any]:
        from rewardlab.io import atomic_writer, write_json
        from rewardlab.train.runtime import TRAIN_RECORD, save_reward_model

        cfg, runtime = self.cfg, self.runtime
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            spec = judge_spec(cfg.out, self.variant)
            genrm = {"reward": spec, "protocol": "genrm", "variant": self.variant, "start": self.start,
                     "verdicts": {"correct": "Yes", "incorrect": "No"}}
            record = {"recipe": "genrm", "config": cfg.model_dump(), **genrm,
                      "train_rows": len(self.data.ids), "train_correct": sum(self.data.correct),
                      "bad_records": self.bad.counts(), "dropped_too_long": len(self.data.dropped),
                      **self.result.record(runtime.world)}
            write_json(self.out / GENRM_RECORD, genrm)
            with atomic_writer(self.out / "README.md") as fh:
                fh.write(readme(spec, self.variant, self.start))
            save_reward_model(self.trainee.raw_model, self.tokenizer, cfg.out, {}, record)
            if self.held:  # scored through the judge: reward, exactly as users will score it
                if self.variant == "critique":  # a critique is sampled: bound it by the longest one trained on
                    longest = max(len(r) - s for r, s in zip(self.data.ids, self.data.target_start))
                    spec += f",max_tokens={2 * longest + 8}"
                record["eval"] = {**evaluate_genrm(spec, self.held), "spec": spec}
                write_json(self.out / TRAIN_RECORD, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def readme(spec: str, variant: str, start: str) -> str:
    how = ("reward = P(Yes) at the verdict position, one forward per response" if variant == "direct" else
           "the judge samples a critique and parses the Yes/No verdict after it")
    return (f"# GenRM trained by `rewardlab train genrm`\n\nStarting model: `{start}`. Variant: {variant}.\n\n"
            f"Load it as a reward ({how}):\n\n    {spec}\n\n"
            "e.g. `rewardlab score --reward '" + spec + "' ...` or `load_reward('" + spec + "')`.\n")


def evaluate_genrm(spec: str, rows: list[Any]) -> dict[str, Any]:
    """Held-out verdicts through the ``judge:`` reward: accuracy at 0.5, AUROC of the reward between
    correct and incorrect rows, the mean reward of each, and failures (counted, never dropped)."""
    import math

    from rewardlab.evaluate.processbench import step_auroc
    from rewardlab.rewards.base import load_reward
    from rewardlab.types import Sample

    reward = load_reward(spec)
    values = [s.value if s.ok else math.nan for s in reward.score([Sample(r.prompt, r.response) for r in rows])]
    scored = [(v, r.correct) for v, r in zip(values, rows) if not math.isnan(v)]
    right = [(v > 0.5) == c for v, c in scored]

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs) if xs else math.nan

    return {"rows": len(rows), "failed": len(rows) - len(scored), "accuracy@0.5": mean([float(x) for x in right]),
            "auroc": step_auroc([[v] for v, _ in scored], [-1 if c else 0 for _, c in scored]),
            "mean_reward_correct": mean([v for v, c in scored if c]),
            "mean_reward_incorrect": mean([v for v, c in scored if not c]), "on": "eval"}


def main(cfg: GenRMConfig) -> dict[str, Any]:
    """Train a GenRM as ``cfg`` says; returns the run record (also OUT/rewardlab_train.json)."""
    recipe = GenRMRecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()

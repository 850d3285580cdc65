"""DPO training for a causal policy, so that the policy serves as an implicit reward model afterwards.

``rewardlab train dpo``: setup, train, save, in that order, on the components every recipe shares (the
typed config, the optimiser-step loop, resumable checkpoints, ``accelerate launch`` processes, progress
and the run record). Loss: sigmoid DPO (Rafailov et al. 2023), with label smoothing for conservative DPO.

Tokenisation is the ``implicit:`` reward's own (`rewardlab.engine.logprobs.tokenize_samples`), so the
trained policy is scored on exactly the token sequences it was trained on. Chosen and rejected share
their prompt, and the forward pass runs it once (the shared-prompt path, equal to the naive path within
1e-4). The reference model's log-probs never change: they are computed once in setup (again on
resume, deterministically) and the reference is freed. The saved folder is the policy plus
``rewardlab_dpo.json`` naming the reference, its weights hash and beta, so ``implicit:policy=OUT``
scores against the very reference the policy was trained against.

TRL's ``DPOTrainer`` is available as ``--backend trl`` where TRL is installed (no resume or processes of
ours there; it tokenises on its own).

    rewardlab train dpo --data pairs.jsonl --model runs/sft --out runs/dpo [--beta 0.1] [--save-steps 50]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator

from rewardlab.train.config import TrainConfig


class DPOConfig(TrainConfig):
    """Direct preference optimisation of a causal policy on (prompt, chosen, rejected) pairs."""

    model: str = Field(description="Starting policy: a causal LM folder or hub id.")
    reference: str | None = Field(None, description="Reference model (default: the starting policy itself).")
    beta: float = Field(0.1, gt=0.0, description=(
        "beta in z = beta * [(log pi - log ref)(y_w) - (log pi - log ref)(y_l)]."))
    label_smoothing: float = Field(0.0, ge=0.0, lt=0.5, description=(
        "eps in -(1 - eps) log sigma(z) - eps log sigma(-z) (conservative DPO; 0 = plain sigmoid DPO)."))
    learning_rate: float = Field(1e-6, description="Peak learning rate of AdamW; must be > 0 (TRL's DPO default).")
    batch_size: int = Field(8, ge=1, description="Pairs per optimiser step, over all processes.")
    backend: Literal["rewardlab", "trl"] = Field("rewardlab", description=(
        "rewardlab: this recipe; trl: TRL's DPOTrainer (needs trl; no --resume or processes of ours)."))

    @model_validator(mode="after")
    def _applicable(self) -> DPOConfig:
        if self.inputs != "pair":
            raise ValueError("inputs: a causal policy reads prompt then response; --inputs does not apply to DPO")
        if self.backend == "trl" and (self.resume or self.lora or self.eval):
            raise ValueError("backend=trl supports neither --resume, --lora nor --eval here; use backend=rewardlab")
        return self


Config = DPOConfig


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float, label_smoothing: float = 0.0):
    """Sigmoid DPO loss per pair, with the implicit rewards it implies.

    z = beta * [(log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))];
    loss = -(1 - eps) * log sigma(z) - eps * log sigma(-z). Inputs are sequence log-prob sums, shape (n,).
    Returns (loss (n,), chosen rewards (n,), rejected rewards (n,)); rewards are detached.
    """
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    z = chosen - rejected
    loss = -(1 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)
    return loss, chosen.detach(), rejected.detach()


class DPORecipe:
    """setup -> train -> save. Components (loss, log-probs, loop, checkpoints) are functions it calls."""

    def __init__(self, cfg: DPOConfig):
        self.cfg = cfg

    def setup(self) -> None:
        from rewardlab.train.dpodata import encode_preference_split, reference_logprob_sums, resolved_model
        from rewardlab.train.loop import plan_total_steps, start_trainee
        from rewardlab.train.pairdata import load_pair_split
        from rewardlab.train.runtime import prepare_output, start_runtime

        cfg = self.cfg
        self.runtime = start_runtime(cfg)
        self.split = load_pair_split(cfg)  # bad rows are reported before any model loads
        self.policy_path = resolved_model(cfg.model)
        self.reference = resolved_model(cfg.reference or cfg.model)
        self.data = encode_preference_split(cfg, self.split, self.policy_path, self.reference)
        self.tokenizer = self.data.tokenizer
        prepare_output(cfg, self.runtime)
        self.ref_chosen, self.ref_rejected = reference_logprob_sums(self.reference, self.data.train, cfg,
                                                                    self.runtime.accelerator.autocast())
        model = load_policy(cfg, self.policy_path)
        self.share = cfg.share_prompt != "off"
        self.total_steps = plan_total_steps(cfg, len(self.data.train))
        self.trainee, self.state = start_trainee(cfg, self.runtime, model, self.total_steps)

    def loss(self, batch: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        """Per-pair DPO losses (n,) for training pairs ``batch``, and how many the implicit reward ranks right."""
        from rewardlab.engine.logprobs import naive_logprobs, shared_prompt_logprobs

        pairs = self.data.train
        items = [pairs.chosen[i] for i in batch] + [pairs.rejected[i] for i in batch]
        run = shared_prompt_logprobs if self.share else naive_logprobs
        sums = torch.stack([lp.sum() for lp in run(self.trainee.model, items, self.tokenizer.pad_token_id)])
        n = len(batch)
        losses, rc, rr = dpo_loss(sums[:n], sums[n:], self.ref_chosen[batch].to(sums.device),
                                  self.ref_rejected[batch].to(sums.device), self.cfg.beta, self.cfg.label_smoothing)
        return losses, {"correct": float((rc > rr).sum()), "margin": float((rc - rr).sum())}

    def train(self) -> None:
        from rewardlab.train.collate import micro_batches
        from rewardlab.train.loop import run_training

        lengths = self.data.train.lengths
        plan = lambda local: micro_batches(local, lengths, 2, self.cfg.batch_tokens)  # noqa: E731
        self.result = run_training(self.cfg, self.trainee, self.state, len(self.data.train), self.total_steps,
                                   plan, self.loss, "pairs")

    def save(self) -> dict[str, Any]:
        from rewardlab.engine.loading import weights_hash
        from rewardlab.io import write_json
        from rewardlab.rewards.implicit import DPO_RECORD
        from rewardlab.train.runtime import TRAIN_RECORD, save_reward_model

        cfg, runtime = self.cfg, self.runtime
        runtime.barrier()
        record: dict[str, Any] = {}
        if runtime.is_main:
            dpo = {"reference": self.reference, "reference_sha256": weights_hash(self.reference), "beta": cfg.beta,
                   "loss": "sigmoid", "label_smoothing": cfg.label_smoothing, "backend": "rewardlab"}
            record = {"recipe": "dpo", "config": cfg.model_dump(), **dpo, **self.data.report(),
                      **self.result.record(runtime.world)}
            Path(cfg.out).mkdir(parents=True, exist_ok=True)
            write_json(Path(cfg.out) / DPO_RECORD, record)
            save_reward_model(self.trainee.raw_model, self.tokenizer, cfg.out, {}, record)
            if self.data.held_pairs:  # scored through `implicit:policy=OUT`, exactly as users will score it
                record["eval"] = implicit_accuracy(cfg.out, self.data.held_pairs, cfg)
                write_json(Path(cfg.out) / TRAIN_RECORD, record)
        runtime.barrier()
        runtime.accelerator.end_training()
        return record


def load_policy(cfg: DPOConfig, path: str) -> Any:
    """The policy in fp32 (the loop's autocast handles bf16 on GPU), dropout off if asked, LoRA if asked."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(cfg.seed)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    if cfg.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    if cfg.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.CAUSAL_LM, r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules))
    return model


def implicit_accuracy(policy: str, pairs: list[Any], cfg: DPOConfig) -> dict[str, Any]:
    """Held-out pairwise accuracy of the implicit reward ``implicit:policy=OUT`` (bootstrap interval)."""
    import numpy as np

    from rewardlab.rewards.base import load_reward
    from rewardlab.train.records import pairwise_accuracy

    extra = f",max_length={cfg.max_length}" if cfg.max_length else ""
    reward = load_reward(f"implicit:policy={policy},cache=none{extra}")
    scores = reward.score([s for p in pairs for s in p.samples()])
    values = np.array([s.value if s.ok else np.nan for s in scores], dtype=np.float64)
    return {**pairwise_accuracy(values[0::2], values[1::2]), "on": "eval"}


def main(cfg: DPOConfig) -> dict[str, Any]:
    """DPO-tune a causal policy as ``cfg`` says; returns the run record (also OUT/rewardlab_train.json)."""
    if cfg.backend == "trl":
        from rewardlab.train.dpo_trl import train_dpo_trl

        return train_dpo_trl(cfg)
    recipe = DPORecipe(cfg)
    recipe.setup()
    recipe.train()
    return recipe.save()

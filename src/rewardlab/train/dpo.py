"""DPO training for a causal policy, so that the policy serves as an implicit reward model afterwards.

Recipe order: setup (policy, tokenised pairs, reference log-probs computed once), train (sigmoid DPO,
Rafailov et al. 2023), save (weights + ``rewardlab_dpo.json`` naming the reference and beta, so
``implicit:policy=OUT`` later scores with the very reference the policy was trained against).

Chosen and rejected share their prompt, and the forward pass runs it once (the shared-prompt path of
`rewardlab.engine.logprobs`, equal to the naive path within 1e-4). The reference model is run once
before training and freed: its log-probs never change. TRL's ``DPOTrainer`` is available as
``backend="trl"`` where TRL is installed; note it tokenises on its own, so our recipe is the one whose
tokenisation matches the ``implicit:`` reward exactly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rewardlab.engine.causal import CausalScorer, ScoringSettings
from rewardlab.engine.loading import load_tokenizer, pick_device, weights_hash
from rewardlab.engine.logprobs import Tokenized, naive_logprobs, shared_prompt_logprobs
from rewardlab.io import write_json
from rewardlab.progress import progress_bar
from rewardlab.rewards.implicit import DPO_RECORD
from rewardlab.types import PairRecord, Sample


@dataclass
class DPOConfig:
    """Everything a DPO run needs; one schema for Python, YAML and the command line."""

    policy: str
    output_dir: str
    reference: str | None = None  # default: the starting policy itself (standard DPO)
    beta: float = 0.1
    learning_rate: float = 1e-3
    epochs: int = 2
    batch_size: int = 8  # pairs per optimiser step
    max_length: int | None = None
    label_smoothing: float = 0.0  # conservative DPO (cDPO); 0 = plain sigmoid DPO
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    share_prompt: bool = True
    backend: str = "rewardlab"  # or "trl"
    device: str | None = None
    overwrite: bool = False


@dataclass
class DPOResult:
    output_dir: str
    history: list[dict[str, float]] = field(default_factory=list)
    pairs_used: int = 0
    pairs_dropped: int = 0


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


def pair_samples(pairs: Sequence[PairRecord]) -> tuple[list[Sample], list[Sample]]:
    chosen, rejected = zip(*(p.samples() for p in pairs)) if pairs else ((), ())
    return list(chosen), list(rejected)


class DPORecipe:
    """setup -> train -> save; components (loss, log-probs, saving) are functions it calls."""

    def __init__(self, config: DPOConfig):
        self.config = config
        self.result = DPOResult(output_dir=config.output_dir)

    def setup(self, pairs: Sequence[PairRecord]) -> None:
        from transformers import AutoModelForCausalLM

        cfg = self.config
        out = Path(cfg.output_dir)
        if out.exists() and any(out.iterdir()) and not cfg.overwrite:
            raise FileExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
        torch.manual_seed(cfg.seed)
        self.device = pick_device(cfg.device)
        self.reference = str(Path(cfg.reference or cfg.policy).resolve())
        self.tokenizer = load_tokenizer(cfg.policy)
        self.model = AutoModelForCausalLM.from_pretrained(cfg.policy, dtype=torch.float32).to(self.device)
        scorer = CausalScorer(self.reference, ScoringSettings(max_length=cfg.max_length, device=cfg.device,
                                                              dtype="float32"))
        if scorer.tokenizer.get_vocab() != self.tokenizer.get_vocab():
            raise ValueError(f"reference {self.reference} and policy {cfg.policy} use different tokenizers; "
                             "DPO needs one token sequence for both")
        chosen, rejected = pair_samples(pairs)
        tok_c, tok_r = scorer.tokenize(chosen), scorer.tokenize(rejected)
        keep = [i for i in range(len(pairs)) if tok_c.items[i] is not None and tok_r.items[i] is not None]
        self.result.pairs_dropped = len(pairs) - len(keep)
        self.chosen = [tok_c.items[i] for i in keep]
        self.rejected = [tok_r.items[i] for i in keep]
        ref_c = scorer.logprobs(Tokenized(self.chosen, {}))
        ref_r = scorer.logprobs(Tokenized(self.rejected, {}))
        self.ref_chosen = torch.tensor([float(v.sum()) for v in ref_c], dtype=torch.float32)
        self.ref_rejected = torch.tensor([float(v.sum()) for v in ref_r], dtype=torch.float32)
        del scorer  # the reference's log-probs never change: no need to keep its weights
        self.result.pairs_used = len(keep)
        if not keep:
            raise ValueError("no usable pairs (all dropped by max_length)")
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.learning_rate,
                                           weight_decay=cfg.weight_decay)

    def train(self) -> None:
        cfg = self.config
        n, bs = len(self.chosen), cfg.batch_size
        generator = torch.Generator().manual_seed(cfg.seed)
        steps = cfg.epochs * ((n + bs - 1) // bs)
        run = shared_prompt_logprobs if cfg.share_prompt else naive_logprobs
        pad = self.tokenizer.pad_token_id
        self.model.train()
        with progress_bar("dpo", steps) as bar:
            for epoch in range(cfg.epochs):
                order = torch.randperm(n, generator=generator).tolist()
                stats: dict[str, list[float]] = {"loss": [], "accuracy": [], "margin": []}
                for k in range(0, n, bs):
                    idx = order[k:k + bs]
                    items = [self.chosen[i] for i in idx] + [self.rejected[i] for i in idx]
                    sums = torch.stack([lp.sum() for lp in run(self.model, items, pad)])
                    loss, rc, rr = dpo_loss(sums[:len(idx)], sums[len(idx):], self.ref_chosen[idx].to(
                        sums.device), self.ref_rejected[idx].to(sums.device), cfg.beta, cfg.label_smoothing)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.mean().backward()
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                    self.optimizer.step()
                    stats["loss"].append(float(loss.detach().mean()))
                    stats["accuracy"].append(float((rc > rr).float().mean()))
                    stats["margin"].append(float((rc - rr).mean()))
                    if bar is not None:
                        bar.update(bar.task_ids[0], advance=1, rate=f"loss {stats['loss'][-1]:.3f}")
                self.result.history.append({"epoch": epoch + 1, **{k: float(np.mean(v)) for k, v in
                                                                   stats.items()}})
        self.model.eval()

    def save(self) -> DPOResult:
        record = {"reference": self.reference, "reference_sha256": weights_hash(self.reference),
                  "beta": self.config.beta, "loss": "sigmoid", "backend": self.config.backend,
                  "config": asdict(self.config), "history": self.result.history,
                  "pairs_used": self.result.pairs_used, "pairs_dropped": self.result.pairs_dropped}
        save_atomically(self.config.output_dir, self.model, self.tokenizer, record)
        return self.result


def save_atomically(output_dir: str, model: Any, tokenizer: Any, record: dict[str, Any]) -> None:
    """Write into a temp folder beside ``output_dir`` and move it into place: never a half-saved model."""
    out = Path(output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / DPO_RECORD, record)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def train_dpo(pairs: Sequence[PairRecord], config: DPOConfig) -> DPOResult:
    """DPO-tune ``config.policy`` on ``pairs`` and save it to ``config.output_dir``."""
    if config.backend == "trl":
        from rewardlab.train.dpo_trl import train_dpo_trl

        return train_dpo_trl(pairs, config)
    if config.backend != "rewardlab":
        raise ValueError(f"unknown DPO backend {config.backend!r}; use 'rewardlab' or 'trl'")
    recipe = DPORecipe(config)
    recipe.setup(pairs)
    recipe.train()
    return recipe.save()

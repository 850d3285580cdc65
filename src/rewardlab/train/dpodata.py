"""The DPO recipe's data stage: pairs tokenised as the ``implicit:`` reward tokenises them, the token
budget checked, and the reference model's sequence log-probs computed once.

A pair is kept only if both sides fit ``max_length`` under the truncation policy; dropped and truncated
pairs are counted for the run record, never lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rewardlab.engine.logprobs import Tokenized, TokenizedSample, tokenize_samples
from rewardlab.train.collate import check_budget
from rewardlab.train.pairdata import PairSplit
from rewardlab.types import PairRecord


@dataclass
class TokenizedPairs:
    """Tokenised chosen/rejected of the kept pairs; ``kept[j]`` is the input index of pair ``j``."""

    chosen: list[TokenizedSample] = field(default_factory=list)
    rejected: list[TokenizedSample] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    dropped: dict[int, str] = field(default_factory=dict)
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.kept)

    @property
    def lengths(self) -> list[int]:
        """Per pair, its longer side: a micro-batch of pairs is padded to its longest sequence."""
        return [max(c.length, r.length) for c, r in zip(self.chosen, self.rejected)]


@dataclass
class PreferenceData:
    tokenizer: Any
    train: TokenizedPairs
    held_pairs: list[PairRecord]
    split: PairSplit

    def report(self) -> dict[str, Any]:
        return {"train_pairs": len(self.train), "eval_pairs": len(self.held_pairs),
                "bad_records": self.split.bad.counts(), "dropped_too_long": len(self.train.dropped),
                "truncated": self.train.truncated}


def resolved_model(name: str) -> str:
    """A local folder as an absolute path (records must still point at it from elsewhere); hub ids as given."""
    from rewardlab.engine.loading import resolve_model_path

    path = resolve_model_path(name)
    return str(Path(path).resolve()) if Path(path).exists() else path


def tokenize_pairs(tokenizer: Any, pairs: list[PairRecord], max_length: int, truncation: str) -> TokenizedPairs:
    samples = [s for p in pairs for s in p.samples()]
    tokenized = tokenize_samples(tokenizer, samples, max_length, truncation)
    out = TokenizedPairs()
    for i in range(len(pairs)):
        c, r = tokenized.items[2 * i], tokenized.items[2 * i + 1]
        if c is None or r is None:
            out.dropped[i] = tokenized.dropped.get(2 * i) or tokenized.dropped.get(2 * i + 1) or "dropped"
            continue
        out.chosen.append(c)
        out.rejected.append(r)
        out.kept.append(i)
    out.truncated = tokenized.truncated
    return out


def encode_preference_split(cfg: Any, split: PairSplit, policy: str, reference: str) -> PreferenceData:
    """Tokenise the training pairs with the policy's tokenizer (which must be the reference's) and check
    every kept pair fits ``batch_tokens``."""
    from transformers import AutoConfig

    from rewardlab.engine.encoding import model_max_length
    from rewardlab.engine.loading import load_tokenizer

    tokenizer = load_tokenizer(policy)
    if reference != policy and load_tokenizer(reference).get_vocab() != tokenizer.get_vocab():
        raise ValueError(f"reference {reference} and policy {policy} use different tokenizers; DPO needs one "
                         "token sequence for both")
    max_length = cfg.max_length or model_max_length(tokenizer, AutoConfig.from_pretrained(policy))
    train = tokenize_pairs(tokenizer, split.train, max_length, cfg.truncation)
    if not len(train):
        raise ValueError(f"{cfg.data}: all {len(split.train)} pairs were dropped by max_length={max_length} "
                         f"({cfg.truncation}); raise --max-length or choose another --truncation")
    sources = [split.train[i].source or f"pair {i}" for i in train.kept]
    check_budget(train.lengths, 2, cfg.batch_tokens, sources)
    return PreferenceData(tokenizer, train, split.held, split)


def reference_logprob_sums(reference: str, pairs: TokenizedPairs, cfg: Any,
                           autocast: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequence log-prob sums of chosen and rejected under the reference, shapes (n,), (n,), fp32.

    Run under the training loop's autocast (bf16 on GPU), so at step 0 the policy and the reference give
    the same numbers and z = 0. The reference's weights are freed when this returns.
    """
    from contextlib import nullcontext

    from rewardlab.engine.causal import CausalScorer, ScoringSettings
    from rewardlab.engine.forward import BatchSettings

    scorer = CausalScorer(reference, ScoringSettings(max_length=cfg.max_length, device=cfg.device, dtype="float32",
                                                     batch=BatchSettings(cfg.batch_tokens, None)))
    with autocast if autocast is not None else nullcontext():
        lp_c = scorer.logprobs(Tokenized(list(pairs.chosen), {}))
        lp_r = scorer.logprobs(Tokenized(list(pairs.rejected), {}))
    del scorer
    return (torch.tensor([float(v.sum()) for v in lp_c], dtype=torch.float32),
            torch.tensor([float(v.sum()) for v in lp_r], dtype=torch.float32))

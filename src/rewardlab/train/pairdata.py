"""The pairwise recipes' data stage: load and check, split, encode, check the token budget.

Everything that can be wrong with the data or the batch settings is found here, before a model is
trained: unusable rows (`records`), pairs dropped by ``max_length`` (counted), a pair that cannot fit
``batch_tokens`` (an error naming it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardlab.data import FieldKeys
from rewardlab.train.collate import EncodedPairs, all_pair_logits, check_budget, encode_pairs
from rewardlab.train.config import TrainConfig
from rewardlab.train.records import BadRows, load_pairs_checked, split_by_prompt
from rewardlab.types import PairRecord


@dataclass
class PairSplit:
    """Checked pairs (and per-pair extras such as ratings) for training and for evaluation."""

    train: list[PairRecord]
    train_extras: list[Any]
    held: list[PairRecord]
    held_extras: list[Any]
    bad: BadRows
    bad_eval: BadRows | None


@dataclass
class EncodedSplit:
    train: EncodedPairs
    held: EncodedPairs
    lengths: list[int]  # per kept training pair: its longer side

    def kept_train(self, split: PairSplit) -> list[PairRecord]:
        return [split.train[i] for i in self.train.kept]

    def evaluation_logits(self, model: Any, pad_id: int, cfg: Any, causal: bool,
                          use_types: bool) -> tuple[Any, Any, str]:
        """Both sides' logits on the held-out pairs (on the training pairs when none are held out), in eval
        mode, and which set that was ("eval" or "train")."""
        enc, where = (self.held, "eval") if len(self.held) else (self.train, "train")
        model.eval()
        lc, lr = all_pair_logits(model, enc, pad_id, cfg.batch_tokens, cfg.share_prompt, causal, use_types)
        model.train()
        return lc, lr, where


def load_pair_split(cfg: TrainConfig, margin_key: str = "margin",
                    extra: Callable[[Any, Any], Any] | None = None) -> PairSplit:
    """Training pairs and held-out pairs (``--eval`` file, or a by-prompt split of ``--data``)."""
    keys = FieldKeys(prompt_key=cfg.prompt_key, chosen_key=cfg.chosen_key, rejected_key=cfg.rejected_key,
                     margin_key=margin_key)
    pairs, extras, bad = load_pairs_checked(cfg.data, keys, cfg.bad_pairs, extra)
    if cfg.eval:
        held, held_extras, bad_eval = load_pairs_checked(cfg.eval, keys, cfg.bad_pairs, extra)
        return PairSplit(pairs, extras, held, held_extras, bad, bad_eval)
    train_idx, held_idx = split_by_prompt(pairs, cfg.eval_fraction, cfg.seed)
    return PairSplit([pairs[i] for i in train_idx], [extras[i] for i in train_idx],
                     [pairs[i] for i in held_idx], [extras[i] for i in held_idx], bad, None)


def encode_split(cfg: TrainConfig, split: PairSplit, tokenizer: Any, max_length: int) -> EncodedSplit:
    concat = cfg.inputs == "concat"
    train = encode_pairs(tokenizer, split.train, max_length, cfg.truncation, concat)
    held = encode_pairs(tokenizer, split.held, max_length, cfg.truncation, concat)
    if not len(train):
        raise ValueError(f"{cfg.data}: all {len(split.train)} pairs were dropped by max_length={max_length} "
                         f"({cfg.truncation}); raise --max-length or choose another --truncation")
    lengths = [train.pair_length(j) for j in range(len(train))]
    sources = [split.train[i].source or f"pair {i}" for i in train.kept]
    check_budget(lengths, 2, cfg.batch_tokens, sources)
    return EncodedSplit(train, held, lengths)


def data_report(split: PairSplit, enc: EncodedSplit) -> dict[str, Any]:
    """Counts for the run record: how many pairs were used, skipped (by reason), dropped, truncated."""
    return {
        "train_pairs": len(enc.train), "eval_pairs": len(enc.held),
        "bad_records": split.bad.counts(), "bad_eval_records": split.bad_eval.counts() if split.bad_eval else {},
        "dropped_too_long": len(enc.train.dropped), "eval_dropped_too_long": len(enc.held.dropped),
        "truncated": enc.train.truncated,
    }

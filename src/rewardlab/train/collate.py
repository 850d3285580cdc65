"""Pairs into token ids, token-budget micro-batches, and the forward pass that rewards both sides at once.

Tokenisation is the scoring engine's own (`rewardlab.engine.encoding.encode_samples`), so a model trained
here scores through ``classifier:DIR`` on exactly the token sequences it was trained on.

Chosen and rejected run in one forward: a micro-batch of n pairs is one right-padded (2n, T) batch. For
causal backbones the pair's common token prefix (the prompt, and any shared opening of the two answers) is
run once: the prefix batch (n, P) fills a KV cache, the cache is repeated for both sides, and the two
suffixes (2n, S) run on top of it with positions continuing each prefix. Attention is causal, so every
hidden state, and therefore every reward and gradient, equals the naive path's (tested to 1e-4). Encoders
attend both ways, so their prefix cannot be shared and they always take the naive path.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rewardlab.engine.batching import token_budget_batches
from rewardlab.engine.encoding import encode_samples
from rewardlab.engine.forward import pad_batch
from rewardlab.types import PairRecord, Sample

SHARE_WHEN_SAVING = 0.10  # auto mode shares the prefix when it removes at least this share of the tokens


@dataclass
class EncodedPairs:
    """Token ids of the pairs that will be trained on; ``kept[j]`` is the input index of pair ``j``."""

    chosen: list[list[int]]
    rejected: list[list[int]]
    chosen_types: list[list[int]] | None
    rejected_types: list[list[int]] | None
    kept: list[int]
    dropped: dict[int, str] = field(default_factory=dict)
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.kept)

    def pair_length(self, j: int) -> int:
        """The longer side: a micro-batch of pairs is padded to its longest sequence."""
        return max(len(self.chosen[j]), len(self.rejected[j]))


def encode_pairs(tokenizer: Any, pairs: Sequence[PairRecord], max_length: int, truncation: str,
                 concat: bool = False) -> EncodedPairs:
    """Encode both sides of every pair in one tokenizer call; a pair is dropped if either side is."""
    if not pairs:
        return EncodedPairs([], [], None, None, [])
    samples = [s for pair in pairs for s in pair.samples()]
    enc = encode_samples(tokenizer, samples, max_length, truncation, concat)
    row = dict(zip(enc.kept, range(len(enc.kept))))
    out = EncodedPairs([], [], [] if enc.token_type_ids is not None else None,
                       [] if enc.token_type_ids is not None else None, [], truncated=enc.truncated)
    for i in range(len(pairs)):
        c, r = row.get(2 * i), row.get(2 * i + 1)
        if c is None or r is None:
            out.dropped[i] = enc.dropped.get(2 * i) or enc.dropped.get(2 * i + 1) or "dropped"
            continue
        out.chosen.append(enc.input_ids[c])
        out.rejected.append(enc.input_ids[r])
        if out.chosen_types is not None:
            out.chosen_types.append(enc.token_type_ids[c])
            out.rejected_types.append(enc.token_type_ids[r])
        out.kept.append(i)
    return out


def encode_texts(tokenizer: Any, samples: Sequence[Sample], max_length: int, truncation: str,
                 concat: bool = False):
    """Single-sample encoding for pointwise recipes (regression); see `encode_samples`."""
    return encode_samples(tokenizer, samples, max_length, truncation, concat)


def check_budget(lengths: Sequence[int], sides: int, batch_tokens: int, sources: Sequence[str]) -> None:
    """Refuse, before any training, an item whose padded size alone exceeds the micro-batch budget."""
    worst = max(range(len(lengths)), key=lambda j: lengths[j], default=None)
    if worst is not None and sides * lengths[worst] > batch_tokens:
        over = sum(1 for n in lengths if sides * n > batch_tokens)
        raise ValueError(
            f"{sources[worst]}: {sides} x {lengths[worst]} tokens cannot fit batch_tokens={batch_tokens} "
            f"({over} item(s) too long); raise --batch-tokens to at least {sides * lengths[worst]} or lower "
            "--max-length")


def micro_batches(indices: Sequence[int], lengths: Sequence[int], sides: int, batch_tokens: int) -> list[list[int]]:
    """Split one step's items into micro-batches whose padded tokens (sides x n x longest) fit the budget.

    Sorting by length inside the step removes most padding without changing which items form the step.
    """
    local = [lengths[i] for i in indices]
    return [[indices[k] for k in batch] for batch in token_budget_batches(local, max(1, batch_tokens // sides))]


def is_causal(model: Any) -> bool:
    """True for decoder-only backbones (Llama, GPT-2, Qwen...), whose attention lets a prefix be shared."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    kind = getattr(model.config, "model_type", "")
    return kind in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and kind not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


def accepts_token_types(model: Any) -> bool:
    """Whether the (unwrapped) model takes ``token_type_ids`` (BERT does; Llama does not)."""
    model = getattr(model, "module", model)  # DDP
    base = getattr(model, "get_base_model", lambda: model)()  # peft
    return "token_type_ids" in inspect.signature(base.forward).parameters


def shared_prefix_lengths(chosen: Sequence[Sequence[int]], rejected: Sequence[Sequence[int]]) -> list[int]:
    """Common token prefix of each pair, leaving at least one token of each side to run on top."""
    out = []
    for c, r in zip(chosen, rejected):
        limit = min(len(c), len(r)) - 1
        n = 0
        while n < limit and c[n] == r[n]:
            n += 1
        out.append(n)
    return out


def should_share(mode: str, causal: bool, chosen, rejected) -> bool:
    """``on``/``off`` are obeyed; ``auto`` shares for causal models when it removes >= 10% of the tokens."""
    if mode == "off" or not causal:
        if mode == "on" and not causal:
            raise ValueError("share_prompt=on needs a causal (decoder) backbone; encoders attend both ways")
        return False
    prefix = shared_prefix_lengths(chosen, rejected)
    if min(prefix, default=0) < 1:
        return False  # a pair with no common first token: nothing to cache for it
    if mode == "on":
        return True
    n, longest = len(chosen), max(max(len(c), len(r)) for c, r in zip(chosen, rejected))
    suffix = max(max(len(c), len(r)) - p for c, r, p in zip(chosen, rejected, prefix))
    return n * max(prefix) + 2 * n * suffix <= (1 - SHARE_WHEN_SAVING) * 2 * n * longest


def pair_logits(model: Any, chosen: Sequence[Sequence[int]], rejected: Sequence[Sequence[int]], pad_id: int,
                chosen_types=None, rejected_types=None, share: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (n, num_labels) for the chosen and the rejected side of n pairs, from one forward."""
    if share:
        return shared_prefix_logits(model, chosen, rejected, pad_id)
    return naive_pair_logits(model, chosen, rejected, pad_id, chosen_types, rejected_types)


def naive_pair_logits(model, chosen, rejected, pad_id, chosen_types=None, rejected_types=None):
    """Both sides in one right-padded (2n, T) batch: the reference path."""
    logits = sequence_logits(model, list(chosen) + list(rejected), pad_id,
                             None if chosen_types is None else list(chosen_types) + list(rejected_types))
    n = len(chosen)
    return logits[:n], logits[n:]


def sequence_logits(model: Any, rows: Sequence[Sequence[int]], pad_id: int, types=None) -> torch.Tensor:
    """(len(rows), num_labels) logits of right-padded sequences; differentiable.

    ``types`` (token type ids) are passed only when given: callers drop them for models that do not
    take them (`accepts_token_types`)."""
    device = next(model.parameters()).device
    ids, mask = pad_batch(rows, pad_id, device)
    kwargs = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        kwargs["token_type_ids"] = pad_batch(types, 0, device)[0]
    return model(**kwargs).logits.float()


def shared_prefix_logits(model, chosen, rejected, pad_id):
    """Run each pair's common prefix once, then both suffixes on its KV cache (causal models only).

    The prefix batch is right-padded (pad positions are masked out of every later query, and no query row
    is fully masked, which keeps SDPA free of NaNs); suffix positions continue each pair's own prefix.
    """
    device = next(model.parameters()).device
    n = len(chosen)
    prefix = shared_prefix_lengths(chosen, rejected)
    p_ids, p_mask = pad_batch([c[:p] for c, p in zip(chosen, prefix)], pad_id, device)
    out = model(input_ids=p_ids, attention_mask=p_mask, use_cache=True)
    cache = out.past_key_values
    owner = torch.arange(n, device=device).repeat(2)
    cache.reorder_cache(owner)
    suffixes = [c[p:] for c, p in zip(chosen, prefix)] + [r[p:] for r, p in zip(rejected, prefix)]
    s_ids, s_mask = pad_batch(suffixes, pad_id, device)
    start = torch.as_tensor(prefix, device=device).repeat(2)
    positions = start[:, None] + torch.arange(s_ids.shape[1], device=device)[None, :]
    mask = torch.cat([p_mask.index_select(0, owner), s_mask], dim=1)
    logits = model(input_ids=s_ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                   use_cache=False).logits.float()
    return logits[:n], logits[n:]


def batch_rows(enc: EncodedPairs, batch: Sequence[int], use_types: bool):
    """(chosen rows, rejected rows, chosen types, rejected types) of pairs ``batch`` (types None if unused)."""
    chosen = [enc.chosen[j] for j in batch]
    rejected = [enc.rejected[j] for j in batch]
    if not use_types or enc.chosen_types is None:
        return chosen, rejected, None, None
    return chosen, rejected, [enc.chosen_types[j] for j in batch], [enc.rejected_types[j] for j in batch]


@torch.no_grad()
def all_pair_logits(model: Any, enc: EncodedPairs, pad_id: int, batch_tokens: int, share_mode: str,
                    causal: bool, use_types: bool) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every pair's two sides, (n, num_labels) each, in pair order (for evaluation)."""
    n = len(enc)
    lengths = [enc.pair_length(j) for j in range(n)]
    out_c: list[np.ndarray | None] = [None] * n
    out_r: list[np.ndarray | None] = [None] * n
    for batch in micro_batches(list(range(n)), lengths, 2, batch_tokens):
        chosen, rejected, ct, rt = batch_rows(enc, batch, use_types)
        share = should_share(share_mode, causal, chosen, rejected)
        lc, lr = pair_logits(model, chosen, rejected, pad_id, ct, rt, share)
        for k, j in enumerate(batch):
            out_c[j], out_r[j] = lc[k].cpu().numpy(), lr[k].cpu().numpy()
    width = int(getattr(getattr(model, "config", None), "num_labels", 1) or 1)
    empty = np.zeros((0, width))
    return (np.stack(out_c) if n else empty), (np.stack(out_r) if n else empty)


@torch.no_grad()
def all_sequence_logits(model: Any, rows: Sequence[Sequence[int]], types, pad_id: int,
                        batch_tokens: int) -> np.ndarray:
    """Logits of single sequences, (n, num_labels), in input order (pointwise evaluation)."""
    out: list[np.ndarray | None] = [None] * len(rows)
    for batch in micro_batches(list(range(len(rows))), [len(r) for r in rows], 1, batch_tokens):
        logits = sequence_logits(model, [rows[j] for j in batch], pad_id,
                                 None if types is None else [types[j] for j in batch])
        for k, j in enumerate(batch):
            out[j] = logits[k].cpu().numpy()
    return np.stack(out)

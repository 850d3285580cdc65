"""Shared-prefix scoring for causal models: a group's common prefix runs once, its members continue from it.

A best-of-N group (N responses to one prompt) scored naively runs the prompt N times; with long prompts
(multi-turn dialogues, math problems) that is most of the work. In a causal model the output at position
``i`` depends only on tokens ``<= i``, so the prompt's keys and values are the same in every member: run
the prefix once with ``use_cache``, copy its cache to one row per member, and run only each member's own
tokens on top of it, with position ids continuing the prefix. The token ids are the ones the naive path
runs (the prefix is the longest common prefix of the members' *encoded* rows, so BPE merges across the
prompt/response boundary cannot move it), hence the scores equal the naive path's to float rounding
(tested within 1e-4 on tiny Llamas in fp32). Bidirectional encoders (BERT, MiniLM) are never shared: their
early outputs depend on later tokens.

The classifier family (`classify_shared`) and the PRMs (`rewardlab.rewards.process.read_scores`) both go
through `continue_from_prefixes`; the causal-LM log-prob path (`rewardlab.engine.logprobs`) shares the
batch planner `plan_group_batches`.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rewardlab.engine.forward import BatchSettings, ForwardStats, ProgressFn, classify, pad_batch

MIN_SHARED_PREFIX = 16
"""A group is shared only when its members have at least this many leading tokens in common: below that
the second forward call costs more than the positions it saves (bench/shared_prefix.py)."""

SHARE_MODES = ("auto", "true", "false")


@dataclass(frozen=True)
class PrefixGroup:
    """Rows (indices into the caller's rows) whose first ``prefix_len`` token ids are identical."""

    members: tuple[int, ...]
    prefix_len: int


def share_mode(value: str, family: str) -> str:
    """Validate a ``share_prompt=`` option value."""
    lowered = value.lower()
    if lowered not in SHARE_MODES:
        raise ValueError(f"{family} option share_prompt={value!r}: use auto, true or false")
    return lowered


def unsupported_reason(model: Any) -> str | None:
    """Why shared-prefix scoring would change this model's outputs (None: it would not).

    Decoder-only architectures qualify; encoders (BERT-like, listed by transformers as masked LMs) and
    encoder-decoders attend to later tokens, so a prefix's states depend on what follows it.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if config is None or not isinstance(model, torch.nn.Module):
        return f"{type(model).__name__} is not a transformers model (the ONNX backend keeps no cache)"
    if getattr(config, "is_encoder_decoder", False):
        return f"{model_type} is an encoder-decoder"
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES or model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return f"{model_type} is not a decoder-only (causal) model: its early outputs depend on later tokens"
    params = inspect.signature(model.forward).parameters
    if "cache" not in params and "past_key_values" not in params:
        return f"{type(model).__name__}.forward takes no KV cache"
    return None


def prompt_key(prompt: Any) -> Hashable:
    """A hashable identity for a prompt (text, or chat messages): samples with equal keys may share."""
    if isinstance(prompt, str):
        return prompt
    return json.dumps(prompt, sort_keys=True, ensure_ascii=False, default=str)


def common_prefix_len(rows: Sequence[Sequence[int]]) -> int:
    first = rows[0]
    n = min(len(r) for r in rows)
    for row in rows[1:]:
        k = 0
        while k < n and row[k] == first[k]:
            k += 1
        n = k
    return n


def find_groups(
    rows: Sequence[Sequence[int]], keys: Sequence[Hashable], limits: Sequence[int],
    min_prefix: int = MIN_SHARED_PREFIX,
) -> tuple[list[PrefixGroup], list[int]]:
    """Groups of rows with equal ``keys`` (their prompt) and >= ``min_prefix`` common leading ids.

    ``limits[i]`` is the first position of row ``i`` whose output is read: the shared prefix stops there
    so every member's read positions lie in its own continuation. Rows in no group are returned as
    singles (naive path), in index order.
    """
    by_key: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    groups: list[PrefixGroup] = []
    singles: list[int] = []
    for members in by_key.values():
        if len(members) > 1:
            n = min(common_prefix_len([rows[i] for i in members]), min(limits[i] for i in members))
            if n >= max(min_prefix, 1):
                groups.append(PrefixGroup(tuple(members), n))
                continue
        singles.extend(members)
    return groups, sorted(singles)


def plan_group_batches(
    units: Sequence[tuple[Sequence[int], int, int]], batch_tokens: int, max_batch: int
) -> list[list[int]]:
    """Batches (lists of unit indices) from ``units`` = (members, prefix length, longest continuation).

    A unit (one group, or a slice of a group larger than ``max_batch``) is never split across batches. The
    budget counts positions actually run: each prefix once (padded to the batch's longest prefix) plus
    every continuation (padded to the longest); longest units first, like `token_budget_batches`.
    """
    order = sorted(range(len(units)), key=lambda u: -(units[u][1] + units[u][2]))
    batches: list[list[int]] = []
    current: list[int] = []
    n_prefixes = p_len = r_len = size = 0
    for u in order:
        members, up, ur = units[u]
        np_, pl, rl = n_prefixes + 1, max(p_len, up), max(r_len, ur)
        cost = np_ * pl + (size + len(members)) * rl
        if current and (cost > batch_tokens or size + len(members) > max_batch):
            batches.append(current)
            current, size, np_, pl, rl = [], 0, 1, up, ur
        current.append(u)
        size += len(members)
        n_prefixes, p_len, r_len = np_, pl, rl
    if current:
        batches.append(current)
    return batches


def group_units(groups: Sequence[PrefixGroup], lengths: Sequence[int], max_batch: int
                ) -> list[tuple[tuple[int, ...], int, int]]:
    """Planner units for `plan_group_batches`: groups cut into slices of at most ``max_batch`` members."""
    units = []
    for g in groups:
        for k in range(0, len(g.members), max_batch):
            part = g.members[k:k + max_batch]
            units.append((part, g.prefix_len, max(lengths[i] - g.prefix_len for i in part)))
    return units


def planned_parts(groups: Sequence[PrefixGroup], lengths: Sequence[int], settings: BatchSettings | None,
                  device: torch.device) -> list[list[tuple[tuple[int, ...], int]]]:
    """Batches of (members, prefix length) parts for `continue_from_prefixes`, under the token budget."""
    batch_tokens, max_batch = (settings or BatchSettings()).resolved(device)
    units = group_units(groups, lengths, max_batch)
    return [[(units[u][0], units[u][1]) for u in batch]
            for batch in plan_group_batches(units, batch_tokens, max_batch)]


def _cache_kwarg(module: Any) -> str:
    params = inspect.signature(module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def continue_from_prefixes(
    module: Any, rows: Sequence[Sequence[int]], parts: Sequence[tuple[Sequence[int], int]], pad_id: int,
    device: torch.device,
) -> tuple[Any, list[int], list[int], int]:
    """Run each part's prefix once, then every member's continuation on top of its cache.

    ``parts`` = (member row indices, prefix length). ``module`` is a transformers model or backbone. The
    prefixes are left-padded (explicit position ids keep each one starting at 0), the cache is gathered to
    one row per member, and the continuations are right-padded with positions continuing their prefix.
    Returns (the continuation call's output, row index per output row, prefix length per output row,
    positions computed).
    """
    prefixes = [rows[members[0]][:n] for members, n in parts]
    width = max(len(p) for p in prefixes)
    p_ids = torch.full((len(prefixes), width), pad_id, dtype=torch.long)
    p_mask = torch.zeros((len(prefixes), width), dtype=torch.long)
    for g, prefix in enumerate(prefixes):
        p_ids[g, width - len(prefix):] = torch.as_tensor(prefix, dtype=torch.long)
        p_mask[g, width - len(prefix):] = 1
    p_ids, p_mask = p_ids.to(device), p_mask.to(device)
    p_pos = (p_mask.cumsum(-1) - 1).clamp(min=0)
    key = _cache_kwarg(module)
    first = module(input_ids=p_ids, attention_mask=p_mask, position_ids=p_pos, use_cache=True)
    cache = getattr(first, "cache", None)
    cache = first.past_key_values if cache is None else cache
    order = [i for members, _ in parts for i in members]
    owner_list = [g for g, (members, _) in enumerate(parts) for _ in members]
    owner = torch.as_tensor(owner_list, device=device)
    cache.reorder_cache(owner)
    offsets = [parts[g][1] for g in owner_list]
    r_ids, r_mask = pad_batch([list(rows[i][n:]) for i, n in zip(order, offsets)], pad_id, device)
    r_pos = torch.as_tensor(offsets, device=device)[:, None] + torch.arange(r_ids.shape[1], device=device)
    mask = torch.cat([p_mask.index_select(0, owner), r_mask], dim=1)
    out = module(input_ids=r_ids, attention_mask=mask, position_ids=r_pos, **{key: cache})
    return out, order, offsets, p_ids.numel() + r_ids.numel()


def last_non_pad(row: Sequence[int], pad_id: int | None) -> int:
    """Where transformers' sequence classifiers read: the rightmost token that is not the pad id."""
    for k in range(len(row) - 1, -1, -1):
        if row[k] != pad_id:
            return k
    return 0


@torch.inference_mode()
def classify_shared(
    model: Any, input_ids: Sequence[Sequence[int]], keys: Sequence[Hashable], pad_id: int,
    settings: BatchSettings | None = None, progress: ProgressFn | None = None,
    stats: ForwardStats | None = None, min_prefix: int = MIN_SHARED_PREFIX,
) -> np.ndarray:
    """`rewardlab.engine.forward.classify` for a causal sequence classifier, prompts shared per group.

    Rows whose key (prompt) recurs and whose ids share >= ``min_prefix`` leading tokens run as groups;
    the rest go through `classify` unchanged. Same shape and order as `classify`.
    """
    device = next(model.parameters()).device
    num_labels = int(getattr(model.config, "num_labels", 1))
    lengths = [len(r) for r in input_ids]
    limits = [last_non_pad(r, pad_id) for r in input_ids]
    groups, singles = find_groups(input_ids, keys, limits, min_prefix)
    out = np.zeros((len(input_ids), num_labels), dtype=np.float64)
    if singles:
        out[singles] = classify(model, [input_ids[i] for i in singles], None, pad_id, settings, progress, stats)
    start = time.perf_counter()
    for parts in planned_parts(groups, lengths, settings, device):
        result, order, _, computed = continue_from_prefixes(model, input_ids, parts, pad_id, device)
        out[order] = result.logits.float().cpu().numpy()
        real = sum(lengths[i] for i in order)
        if stats is not None:
            stats.add_shared(len(order), real, computed, sum(n * (len(m) - 1) for m, n in parts))
        if progress is not None:
            progress(len(order), real)
    if stats is not None:
        stats.seconds += time.perf_counter() - start
    return out


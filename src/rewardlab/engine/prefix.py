"""Which rows may share a prefix: grouping, the read-position limits, and which models allow it.

A best-of-N group (N responses to one prompt) scored naively runs the prompt N times; with long prompts
(multi-turn dialogues, math problems) that is most of the work. In a causal model the output at position
``i`` depends only on tokens ``<= i``, so the prompt's states are the same in every member and can be
computed once. The shared prefix is the longest common prefix of the members' *encoded* rows (so BPE
merges across the prompt/response boundary cannot move it): the token ids are exactly the naive path's.
Bidirectional encoders (BERT, MiniLM) are never shared: their early outputs depend on later tokens.

The classifier family and the PRMs run shared groups as packed rows with a tree mask
(`rewardlab.engine.packing`); the causal-LM log-prob path (`rewardlab.engine.logprobs`) keeps a KV cache
and shares the batch planner `plan_group_batches`.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

MIN_SHARED_PREFIX = 16
"""A group is shared only when its members have at least this many leading tokens in common: below that
it saves less than 16 positions per member, not worth taking its rows out of the padded, length-sorted
batches into packed rows (whose dense mask costs more per position; bench/packing_settings.py)."""

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


def resolve_share(mode: str, reason: str | None, name: str) -> bool:
    """Whether to share prompts under ``share_prompt=mode`` given why the model cannot (``reason``, None: it
    can): ``false`` never, ``auto`` where it can, ``true`` where it can and an error naming ``name`` where not."""
    if mode == "false":
        return False
    if reason and mode == "true":
        raise ValueError(f"{name}: share_prompt=true, but {reason}; use share_prompt=auto or false")
    return reason is None


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
    window = getattr(config, "sliding_window", None)
    if window and getattr(config, "use_sliding_window", True) is not False:
        return (f"{model_type} has sliding-window attention (window {window}), which a custom 4D mask would "
                "override")
    attn = str(getattr(config, "_attn_implementation", None))
    if attn.startswith(("flash", "flex")):
        return f"attn_implementation={attn} takes no custom 4D mask (use sdpa or eager)"
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


def last_non_pad(row: Sequence[int], pad_id: int | None) -> int:
    """Where transformers' sequence classifiers read: the rightmost token that is not the pad id."""
    for k in range(len(row) - 1, -1, -1):
        if row[k] != pad_id:
            return k
    return 0

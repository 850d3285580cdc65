"""Packed (padding-free) rows: several sequences in one row, each seeing only itself, through a 4D mask.

Token-budget batches pad each row to the batch's longest; packing instead lays sequences end to end in one
row with position ids restarting per sequence and a block mask, so no position is padding. The same layout
shares a prompt: a group's prompt is laid down once and each member's continuation follows, seeing the
prompt and its own earlier tokens only (a tree mask), in ONE forward call without a KV cache. Position ids
continue the prompt, so every token sees exactly the context it has on the naive path and the outputs equal
it to float rounding (tested within 1e-5 for packing and 1e-4 for shared prompts, fp32).

The mask is dense (row length squared), so the attention part of the cost grows with the packed row's
length: `PACK_ROW_TOKENS` bounds it. Only causal (decoder-only) models can be packed or shared this way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

PACK_ROW_TOKENS = 2048
"""Longest packed row on CPU (a dense mask costs O(row^2)); GPU rows take up to 4x this."""


@dataclass
class Segment:
    """One group in a packed row: a shared prefix (possibly empty) and the members that continue it."""

    prefix: tuple[int, ...]
    members: list[int] = field(default_factory=list)  # caller's row indices


@dataclass
class PackedRow:
    segments: list[Segment] = field(default_factory=list)
    length: int = 0

    @property
    def members(self) -> int:
        return sum(len(s.members) for s in self.segments)


def pack_rows(rows: Sequence[Sequence[int]], parts: Sequence[tuple[Sequence[int], int]], capacity: int,
              max_members: int) -> list[PackedRow]:
    """Lay ``parts`` = (member row indices, shared prefix length) into rows of at most ``capacity`` tokens
    and ``max_members`` sequences.

    A part too large for one row is split into several segments, each repeating the prefix; a single
    sequence longer than ``capacity`` gets a row of its own. First fit, longest parts first.
    """
    pieces: list[tuple[int, Segment]] = []  # (packed length, segment)
    for members, n in parts:
        prefix = tuple(rows[members[0]][:n])
        current = Segment(prefix)
        size = n
        for i in sorted(members, key=lambda i: -len(rows[i])):
            extra = len(rows[i]) - n
            if current.members and (size + extra > capacity or len(current.members) >= max_members):
                pieces.append((size, current))
                current, size = Segment(prefix), n
            current.members.append(i)
            size += extra
        pieces.append((size, current))
    pieces.sort(key=lambda p: -p[0])
    packed: list[PackedRow] = []
    for size, segment in pieces:
        for row in packed:
            if row.length + size <= capacity and row.members + len(segment.members) <= max_members:
                break
        else:
            row = PackedRow()
            packed.append(row)
        row.segments.append(segment)
        row.length += size
    return packed


def build_batch(rows: Sequence[Sequence[int]], packed: Sequence[PackedRow], pad_id: int, device: torch.device,
                dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[int, tuple[int, int, int]]]:
    """Input ids, position ids and additive 4D mask for packed rows, plus where each member landed.

    ``where[i] = (batch row, packed index of the member's first own token, its prefix length)``: original
    position ``p >= prefix`` of row ``i`` is at packed index ``start + p - prefix``.
    """
    width = max(r.length for r in packed)
    ids = torch.full((len(packed), width), pad_id, dtype=torch.long)
    pos = torch.zeros((len(packed), width), dtype=torch.long)
    allowed = torch.zeros((len(packed), width, width), dtype=torch.bool)
    where: dict[int, tuple[int, int, int]] = {}
    for b, row in enumerate(packed):
        at = 0
        for seg in row.segments:
            n = len(seg.prefix)
            if n:
                ids[b, at:at + n] = torch.as_tensor(seg.prefix, dtype=torch.long)
                pos[b, at:at + n] = torch.arange(n)
                allowed[b, at:at + n, at:at + n] = torch.ones(n, n, dtype=torch.bool).tril()
            prefix_at = at
            at += n
            for i in seg.members:
                own = rows[i][n:]
                k = len(own)
                ids[b, at:at + k] = torch.as_tensor(own, dtype=torch.long)
                pos[b, at:at + k] = torch.arange(n, n + k)
                allowed[b, at:at + k, prefix_at:prefix_at + n] = True
                allowed[b, at:at + k, at:at + k] = torch.ones(k, k, dtype=torch.bool).tril()
                where[i] = (b, at, n)
                at += k
        allowed[b, at:, at:] = torch.eye(width - at, dtype=torch.bool)  # padding sees itself: no empty rows
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    return ids.to(device), pos.to(device), mask[:, None].to(device), where


def packed_hidden(backbone: Any, rows: Sequence[Sequence[int]], packed: Sequence[PackedRow], pad_id: int
                  ) -> tuple[torch.Tensor, dict[int, tuple[int, int, int]], int]:
    """Run the backbone over packed rows: (last hidden states, where each member landed, positions run)."""
    param = next(backbone.parameters())
    ids, pos, mask, where = build_batch(rows, packed, pad_id, param.device, param.dtype)
    hidden = backbone(input_ids=ids, attention_mask=mask, position_ids=pos).last_hidden_state
    return hidden, where, ids.numel()


def gather(hidden: torch.Tensor, where: dict[int, tuple[int, int, int]], i: int, positions: Sequence[int]
           ) -> torch.Tensor:
    """Hidden states of row ``i`` at its original ``positions`` (each at or after its prefix)."""
    b, start, n = where[i]
    return hidden[b, [start + p - n for p in positions]]


def row_capacity(device: torch.device, batch_tokens: int) -> int:
    return min(batch_tokens, PACK_ROW_TOKENS * (4 if device.type == "cuda" else 1))


def classifier_head(model: Any) -> tuple[Any, Any] | None:
    """(backbone, score head) of a decoder sequence classifier that reads one token's hidden state."""
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None)
    head = getattr(model, "score", None)
    if backbone is None or not isinstance(head, torch.nn.Linear):
        return None
    return backbone, head


def pack_plan(rows: Sequence[Sequence[int]], parts: Sequence[tuple[Sequence[int], int]],
              batch_tokens: int, max_batch: int, device: torch.device) -> list[list[PackedRow]]:
    """Packed rows grouped into forward calls of about ``batch_tokens`` positions and at most ``max_batch``
    sequences each."""
    capacity = row_capacity(device, batch_tokens)
    calls: list[list[PackedRow]] = []
    for row in pack_rows(rows, parts, capacity, max_batch):
        last = calls[-1] if calls else None
        fits = last and (len(last) + 1) * max(r.length for r in last) <= batch_tokens  # rows pad to the first
        if fits and sum(r.members for r in last) + row.members <= max_batch:
            last.append(row)
        else:
            calls.append([row])
    return calls


def plan_parts(rows: Sequence[Sequence[int]], keys: Sequence[Any] | None, limits: Sequence[int]
               ) -> list[tuple[Sequence[int], int]]:
    """(members, shared prefix length) parts: groups where ``keys`` are given, every other row alone."""
    from rewardlab.engine.prefix import find_groups

    if keys is None:
        return [((i,), 0) for i in range(len(rows))]
    groups, singles = find_groups(rows, keys, limits)
    return [(g.members, g.prefix_len) for g in groups] + [((i,), 0) for i in singles]


@torch.inference_mode()
def classify_packed(
    model: Any, input_ids: Sequence[Sequence[int]], keys: Sequence[Any] | None, pad_id: int,
    settings: Any = None, progress: Any = None, stats: Any = None, pack_singles: bool = True,
) -> np.ndarray:
    """`rewardlab.engine.forward.classify` for a decoder sequence classifier, on packed rows.

    With ``keys`` (each row's prompt) rows of one prompt share their common prefix (a tree mask); the
    other rows are packed alone (block-diagonal), or with ``pack_singles=False`` run in the usual padded
    batches. Read where transformers reads: the last non-pad token. Same shape and order as `classify`.
    """
    from rewardlab.engine.forward import BatchSettings, classify
    from rewardlab.engine.prefix import last_non_pad

    backbone, head = classifier_head(model)  # type: ignore[misc]
    device = next(model.parameters()).device
    batch_tokens, max_batch = (settings or BatchSettings()).resolved(device)
    limits = [last_non_pad(r, pad_id) for r in input_ids]
    parts = plan_parts(input_ids, keys, limits)
    out = np.zeros((len(input_ids), int(model.config.num_labels)), dtype=np.float64)
    if not pack_singles:
        singles = [m[0] for m, n in parts if n == 0]
        parts = [(m, n) for m, n in parts if n > 0]
        if singles:
            out[singles] = classify(model, [input_ids[i] for i in singles], None, pad_id, settings, progress,
                                    stats)
    start = time.perf_counter()
    for call in pack_plan(input_ids, parts, batch_tokens, max_batch, device):
        hidden, where, computed = packed_hidden(backbone, input_ids, call, pad_id)
        members = [i for row in call for seg in row.segments for i in seg.members]
        picked = torch.cat([gather(hidden, where, i, [limits[i]]) for i in members])
        out[members] = head(picked).float().cpu().numpy()
        real = sum(len(input_ids[i]) for i in members)
        if stats is not None:
            stats.add_shared(len(members), real, computed,
                             sum(len(s.prefix) * (len(s.members) - 1) for row in call for s in row.segments))
        if progress is not None:
            progress(len(members), real)
    if stats is not None:
        stats.seconds += time.perf_counter() - start
    return out

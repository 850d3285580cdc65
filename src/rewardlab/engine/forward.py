"""Running a sequence model over encoded inputs in token-budget batches, results in input order.

Scores do not depend on batch size or order: each batch is padded only to its own longest item, padding is
masked, and outputs are scattered back to the caller's indices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rewardlab.engine.batching import token_budget_batches

ProgressFn = Callable[[int, int], None]
"""Called after each batch with (items done in this batch, real tokens in this batch)."""


@dataclass
class BatchSettings:
    """How inputs are grouped. CPU prefers small batches (8-16 sequences measured best on 2 cores)."""

    batch_tokens: int | None = None
    max_batch_size: int | None = None

    def resolved(self, device: torch.device) -> tuple[int, int]:
        if device.type == "cuda":
            return self.batch_tokens or 65536, self.max_batch_size or 512
        return self.batch_tokens or 2048, self.max_batch_size or 16


@dataclass
class ForwardStats:
    sequences: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    batches: int = 0
    seconds: float = 0.0
    shared_tokens: int = 0
    """Positions a shared prefix spared (run once instead of once per member; `rewardlab.engine.prefix`)."""

    def add_shared(self, sequences: int, real: int, computed: int, shared: int) -> None:
        self.sequences += sequences
        self.real_tokens += real
        self.padded_tokens += computed
        self.shared_tokens += shared
        self.batches += 1

    @property
    def tokens_per_second(self) -> float:
        return self.real_tokens / self.seconds if self.seconds > 0 else 0.0


def pad_batch(
    rows: Sequence[Sequence[int]], pad_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest row: (batch, seq) ids and attention mask."""
    longest = max(len(r) for r in rows)
    ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for j, row in enumerate(rows):
        ids[j, : len(row)] = torch.as_tensor(row, dtype=torch.long)
        mask[j, : len(row)] = 1
    return ids.to(device), mask.to(device)


@torch.inference_mode()
def classify(
    model: Any,
    input_ids: Sequence[Sequence[int]],
    token_type_ids: Sequence[Sequence[int]] | None,
    pad_id: int,
    settings: BatchSettings | None = None,
    progress: ProgressFn | None = None,
    stats: ForwardStats | None = None,
) -> np.ndarray:
    """Logits of a sequence-classification model, shape (n, num_labels), in the order of ``input_ids``.

    ``model`` is a transformers model or anything called the same way (the ONNX Runtime backend).
    """
    device = getattr(model, "device", None) or next(model.parameters()).device
    batch_tokens, max_batch = (settings or BatchSettings()).resolved(device)
    lengths = [len(r) for r in input_ids]
    num_labels = int(getattr(model.config, "num_labels", 1))
    out = np.zeros((len(input_ids), num_labels), dtype=np.float64)
    start = time.perf_counter()
    for batch in token_budget_batches(lengths, batch_tokens, max_batch):
        ids, mask = pad_batch([input_ids[i] for i in batch], pad_id, device)
        kwargs = {"input_ids": ids, "attention_mask": mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = pad_batch([token_type_ids[i] for i in batch], 0, device)[0]
        logits = model(**kwargs).logits.float().cpu().numpy()
        out[batch] = logits
        real = sum(lengths[i] for i in batch)
        if stats is not None:
            stats.sequences += len(batch)
            stats.real_tokens += real
            stats.padded_tokens += ids.numel()
            stats.batches += 1
        if progress is not None:
            progress(len(batch), real)
    if stats is not None:
        stats.seconds += time.perf_counter() - start
    return out

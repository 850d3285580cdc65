"""The machine's compute ceiling and exact encoder FLOP counts, shared by the benchmarks.

Every benchmark prints the fraction of the ceiling it reached: FLOPs actually needed (real tokens only,
no padding) divided by seconds, over the best fp32 matmul rate measured in the same run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch


def measure_ceiling(seconds: float = 2.0, device: str = "cpu", dtype: torch.dtype = torch.float32) -> float:
    """Peak matmul GFLOP/s on this machine's threads (or on a GPU: ``device="cuda"``, e.g. in bf16): the best
    single product over square sizes 1024-4096 (``seconds`` of repeats each; 8192 too on a GPU). The speed
    drifts from second to second; the best observed rate is the conservative (highest) ceiling."""
    cuda = str(device).startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    best = 0.0
    for size in (1024, 2048, 3072, 4096, *((8192,) if cuda else ())):
        a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
        a @ b
        sync()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t = time.perf_counter()
            a @ b
            sync()
            best = max(best, 2 * size**3 / (time.perf_counter() - t) / 1e9)
    return best


def forward_flops(lengths: Iterable[int], config) -> float:
    """Exact forward FLOPs of a BERT-style encoder: linear layers (2 per weight per token) + attention
    (4*d*S per token per layer) + the pooler/head; embeddings are lookups and cost nothing."""
    d, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_token_linear = 2 * layers * (4 * d * d + 2 * d * inter)
    return float(sum(s * per_token_linear + layers * 4 * d * s * s + 2 * (d * d + d) for s in lengths))


TRAINING_FACTOR = 3.0
"""Forward + backward is ~3x the forward FLOPs (the backward pass computes two products per weight)."""


def decoder_flops(new: int, context: int, config) -> float:
    """Forward FLOPs of a Llama-style decoder running ``new`` tokens on top of ``context`` cached ones: per
    token and layer the q/k/v/o projections (k and v at the key-value width: GQA) and the gated MLP's three
    matrices, 2 FLOPs per weight; attention 4*d per (query, key) pair a causal mask allows (each new token
    sees the context and the new tokens up to itself); the head per token. Embeddings are lookups."""
    d, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    kv_width = d // heads * kv
    per_token = 2 * layers * (2 * d * d + 2 * d * kv_width + 3 * d * inter) + 2 * d * config.num_labels
    pairs = new * context + new * (new + 1) // 2
    return float(new * per_token + layers * 4 * d * pairs)

"""Batch-invariant seeded sampling and stop strings for transformers' ``generate``.

transformers samples with ``torch.multinomial`` on the global RNG, so a sample depends on every other row in
its batch and on batch order: re-batching a search changes its candidates, and nothing can be cached per
sample. Here each row carries its own 63-bit seed (from `base.sample_seed`: seed, prompt, sample index) and
draws its token at step ``t`` by inverse-CDF sampling with a uniform number hashed from (row seed, t). The
processor runs last inside ``generate`` (which is told to decode greedily) and returns logits that keep
only the drawn token, so ``generate`` keeps its KV cache, padding and stopping logic while the choice of
token is ours. It also records each chosen token's log-probability under the model (raw logits, before
temperature: the OpenAI / vLLM convention) and the top-k alternatives.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, StoppingCriteria

_M32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B1


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit avalanche hash on int64 tensors holding values < 2**32 (products stay below 2**63)."""
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _M32
    x = x ^ (x >> 16)
    x = (x * 0x45D9F3B) & _M32
    return x ^ (x >> 16)


def uniforms(row_seeds: torch.Tensor, step: int) -> torch.Tensor:
    """One uniform number in [0, 1) per row for decoding step ``step``; shape (rows,), float64."""
    lo, hi = row_seeds & _M32, (row_seeds >> 32) & _M32
    h = _mix32(lo ^ _mix32(hi))
    h = _mix32(h ^ ((step * _GOLDEN + 1) & _M32))
    h2 = _mix32(h ^ 0x5BD1E995)
    # 53 bits from two 32-bit words: the full precision of a float64 mantissa
    return ((h >> 5).double() * 67108864.0 + (h2 >> 6).double()) / 9007199254740992.0


def nucleus_probs(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """softmax(logits / T) restricted to the smallest top set with mass >= ``top_p``, renormalised.

    Shapes: (rows, vocab) in and out, float64. The most likely token is always kept.
    """
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    if top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(-1) - sorted_probs  # mass strictly above each token
    sorted_probs = sorted_probs.masked_fill(before >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return kept / kept.sum(-1, keepdim=True)


class SeededSampler(LogitsProcessor):
    """Chooses every row's next token itself (greedy, or seeded sampling) and records log-probs.

    ``row_seeds``: (rows,) int64; ``top_k``: how many alternatives to record per step (0 = none).
    """

    def __init__(self, row_seeds: Sequence[int], temperature: float, top_p: float, top_k: int = 0,
                 record: bool = False):
        self.row_seeds = torch.tensor(list(row_seeds), dtype=torch.long)
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.record = record or top_k > 0
        self.step = 0
        self.chosen: list[torch.Tensor] = []
        self.chosen_logprobs: list[torch.Tensor] = []
        self.top: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.float()
        if self.temperature <= 0:
            chosen = logits.argmax(dim=-1)
        else:
            probs = nucleus_probs(logits, self.temperature, self.top_p)
            cdf = probs.cumsum(-1)
            u = uniforms(self.row_seeds.to(cdf.device), self.step).unsqueeze(-1) * cdf[:, -1:]
            chosen = torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=cdf.shape[-1] - 1)
            # a zero-probability token can only be hit at a flat cdf step: move to the next kept token
            bad = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1) <= 0
            if bad.any():
                chosen[bad] = probs[bad].argmax(-1)
        if self.record:
            logp = torch.log_softmax(logits, dim=-1)
            self.chosen_logprobs.append(logp.gather(-1, chosen.unsqueeze(-1)).squeeze(-1).cpu())
            if self.top_k:
                values, ids = logp.topk(self.top_k, dim=-1)
                self.top.append((values.cpu(), ids.cpu()))
        self.chosen.append(chosen.cpu())
        self.step += 1
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, chosen.unsqueeze(-1), 0.0)


class StopOnStrings(StoppingCriteria):
    """Stops each row once its generated text contains a stop string; remembers the step it stopped at.

    Only the last few tokens are decoded each step: a stop string of L bytes spans at most L + 1 tokens.
    """

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int):
        self.tokenizer = tokenizer
        self.stops = list(stops)
        self.prompt_width = prompt_width
        self.window = max(len(s.encode("utf-8")) for s in self.stops) + 1
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prompt_width
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.window):].tolist()
        for row, tail in enumerate(tails):
            if row in self.stopped_at:
                done[row] = True
                continue
            text = self.tokenizer.decode(tail, skip_special_tokens=True)
            if any(s in text for s in self.stops):
                self.stopped_at[row] = generated
                done[row] = True
        return done

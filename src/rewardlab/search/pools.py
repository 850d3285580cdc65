"""Sampling candidates from a generation backend, with retries and compute accounting.

Search spends its compute here, so every call is counted (`Compute`): generated tokens, requests and
completions. A completion that failed (a backend timeout, a server error after the backend's own retries)
is retried ``retries`` more times for its prompt; a prompt still failing is returned as a `FailedPrompt`
with its id and the reason, for the caller to report: never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab.generation.base import Completion, Generator, GenPrompt, SamplingParams


@dataclass
class Compute:
    """What a search run spent: the figure equal-compute comparisons hold fixed is ``generated_tokens``."""

    generated_tokens: int = 0
    completions: int = 0
    generation_calls: int = 0
    retried_prompts: int = 0
    reward_calls: int = 0
    reward_samples: int = 0
    unknown_token_counts: int = 0

    def add_completions(self, rows: Sequence[Sequence[Completion]]) -> None:
        for row in rows:
            for c in row:
                self.completions += 1
                if c.tokens is None:
                    self.unknown_token_counts += 1
                else:
                    self.generated_tokens += int(c.tokens)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FailedPrompt:
    id: str
    error: str


@dataclass
class Pools:
    """``completions[i]``: the samples of prompt i (empty when it failed); ``failed``: who failed and why."""

    completions: list[list[Completion]]
    failed: list[FailedPrompt] = field(default_factory=list)


def sample_pools(generator: Generator, prompts: Sequence[GenPrompt], ids: Sequence[str], params: SamplingParams,
                 compute: Compute, retries: int = 2) -> Pools:
    """``params.n`` samples per prompt; rows with a failed sample are re-asked up to ``retries`` times."""
    rows = generator.generate(list(prompts), params)
    compute.generation_calls += 1
    compute.add_completions(rows)
    out: list[list[Completion]] = [list(r) for r in rows]
    for _ in range(retries):
        bad = [i for i, row in enumerate(out) if any(not c.ok for c in row) or len(row) != params.n]
        if not bad:
            break
        compute.retried_prompts += len(bad)
        again = generator.generate([prompts[i] for i in bad], params)
        compute.generation_calls += 1
        compute.add_completions(again)
        for i, row in zip(bad, again):
            out[i] = list(row)
    failed = []
    for i, row in enumerate(out):
        errors = [c.error for c in row if not c.ok]
        if errors or len(row) != params.n:
            reason = errors[0] if errors else f"backend returned {len(row)} samples, asked for {params.n}"
            failed.append(FailedPrompt(str(ids[i]), f"generation failed after {retries} retries: {reason}"))
            out[i] = []
    return Pools(out, failed)


class CountingReward:
    """A reward that counts its calls and scored samples into a `Compute` (everything else is the inner
    reward's, so fingerprints and options are unchanged)."""

    def __init__(self, inner: Any, compute: Compute):
        self.inner, self.compute, self.name = inner, compute, inner.name

    def score(self, samples: Sequence[Any]) -> list[Any]:
        self.compute.reward_calls += 1
        self.compute.reward_samples += len(samples)
        return self.inner.score(samples)

    def __getattr__(self, key: str) -> Any:
        return getattr(self.inner, key)

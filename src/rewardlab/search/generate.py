"""Turning prompts into best-of-N pools with a generation backend (the ``--generator`` path of
``rewardlab search bon``): sample, retry failures, label with the world's verifier where it applies."""

from __future__ import annotations

from collections.abc import Sequence

from rewardlab.generation.base import Generator, SamplingParams
from rewardlab.search.bon import Pool
from rewardlab.search.pools import Compute, FailedPrompt, sample_pools
from rewardlab.search.prompts import PromptRow


def generate_pools(generator: Generator, prompts: Sequence[PromptRow], params: SamplingParams, compute: Compute,
                   retries: int = 2) -> tuple[list[Pool], list[FailedPrompt]]:
    """One pool of ``params.n`` samples per prompt; prompts that still fail after retries are returned
    separately (with their id and reason), not pooled."""
    from rewardlab.synth.world import is_correct

    sampled = sample_pools(generator, [p.prompt for p in prompts], [p.id for p in prompts], params, compute, retries)
    pools = []
    for p, row in zip(prompts, sampled.completions):
        if not row:
            continue
        texts = [c.text for c in row]
        correct = [is_correct(t, p.reference) for t in texts] if p.world and p.reference is not None else None
        pools.append(Pool(id=p.id, prompt=p.prompt, responses=texts, reference=p.reference, correct=correct,
                          tokens=[c.tokens for c in row]))
    return pools, sampled.failed

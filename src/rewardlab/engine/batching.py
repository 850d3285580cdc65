"""Token-budget batching with length buckets.

Sorting by length and cutting batches by a padded-token budget keeps padding near zero and makes batch
shape follow the data instead of a fixed count: the reason scoring here is faster than fixed-size batches
padded to the longest item (TRL's evaluate, reward-bench's pipeline).
"""

from __future__ import annotations

from collections.abc import Sequence


def token_budget_batches(
    lengths: Sequence[int], batch_tokens: int, max_batch_size: int | None = None
) -> list[list[int]]:
    """Group item indices into batches whose padded size (len(batch) * longest) fits ``batch_tokens``.

    Items are visited longest first, so the largest (most memory-hungry) batch comes first and an
    out-of-memory error surfaces at once rather than at the end. An item longer than the budget gets a
    batch of its own: nothing is ever dropped here (truncation policy is decided before batching).
    Returns lists of original indices; every index appears exactly once.
    """
    if batch_tokens <= 0:
        raise ValueError(f"batch_tokens must be positive, got {batch_tokens}")
    if max_batch_size is not None and max_batch_size <= 0:
        raise ValueError(f"max_batch_size must be positive, got {max_batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        too_many = max_batch_size is not None and len(current) >= max_batch_size
        if current and (longest_if_added * (len(current) + 1) > batch_tokens or too_many):
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    return batches


def padding_fraction(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> float:
    """Share of computed positions that are padding (0.0 = none), for reports and benchmarks."""
    real = sum(lengths)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches if b)
    return 0.0 if padded == 0 else 1.0 - real / padded

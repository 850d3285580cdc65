"""Named rules for judges: position debiasing, failure policy, k-sample aggregation. Pure functions.

Position rules (pairwise; each names the benchmark or system that defines it):
- ``single``: one order per item, chosen at random (seeded by the item's content): RewardBench.
- ``both_vote_sum``: both orders; each order's decision adds +1 if it prefers ``a``, -1 if ``b``, 0 for a
  tie or a failed order; ``a`` wins iff the sum > 0 (one win + one tie wins; a split is a tie): JudgeBench.
- ``both_mean``: both orders; P(a) = mean of the two orders' P(a); positional agreement reported: LLMBar.
- ``both_agree_or_skip``: both orders; a win counts only when the two orders agree, else the pair is
  skipped (P = 0.5, ``skipped``): OpenJudge's debiased tournament.

Failure policies: ``nan`` (a counted failure, the default), ``tie`` (the protocol's neutral verdict:
0.5 for a pair, 1/4 each for four-way, the scale's midpoint for a rating), ``raise``, ``resample:K`` (up
to K more samples at temperature >= 1 with new seeds, then ``nan``: Prometheus resamples this way).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

POSITION_RULES = ("single", "both_vote_sum", "both_mean", "both_agree_or_skip")
AGGREGATES = ("mean", "vote")


@dataclass(frozen=True)
class FailurePolicy:
    kind: str = "nan"
    resample: int = 0

    @classmethod
    def parse(cls, text: str) -> FailurePolicy:
        kind, _, count = text.partition(":")
        if kind in {"nan", "tie", "raise"} and not count:
            return cls(kind)
        if kind == "resample" and count.isdigit() and 1 <= int(count) <= 16:
            return cls("resample", int(count))
        raise ValueError(f"failure policy must be nan, tie, raise or resample:K (1 <= K <= 16), got {text!r}")

    def __str__(self) -> str:
        return f"resample:{self.resample}" if self.kind == "resample" else self.kind


def unit_hash(seed: int, *parts: str) -> float:
    """A number in [0, 1) fixed by the seed and the item's content (not its index or batch)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


def single_order_swaps(seed: int, question: str, a: str, b: str) -> bool:
    """RewardBench's one random order per item: True means show ``b`` first."""
    return unit_hash(seed, "order", question, a, b) < 0.5


def four_way_slots(seed: int, question: str, answers: Sequence[str]) -> list[int]:
    """RewardBench 2's placement: candidate 0 swapped with a uniformly chosen slot k in 0..3 (k = 0 keeps the
    order). Returns ``slots`` with ``slots[j]`` = the candidate shown in slot j."""
    k = min(3, int(unit_hash(seed, "four", question, *answers) * 4))
    slots = [0, 1, 2, 3]
    slots[0], slots[k] = slots[k], slots[0]
    return slots


def decision(p_first: float) -> int:
    """+1 first slot preferred, -1 second, 0 tie; NaN (a failed order) is 0 as JudgeBench counts it."""
    if math.isnan(p_first) or p_first == 0.5:
        return 0
    return 1 if p_first > 0.5 else -1


@dataclass(frozen=True)
class Combined:
    """A pair's verdict over both orders: ``p`` = P(a better); ``agree`` = both orders pick one response."""

    p: float
    agree: bool | None
    skipped: bool = False


def combine_orders(rule: str, p_ab: float, p_ba: float) -> Combined:
    """``p_ab`` = P(first slot wins) with ``a`` first; ``p_ba`` = P(first slot wins) with ``b`` first."""
    d1, d2 = decision(p_ab), -decision(p_ba)  # both as "+1 = a preferred"
    agree = None if math.isnan(p_ab) or math.isnan(p_ba) else (d1 == d2 and d1 != 0)
    if rule == "both_vote_sum":
        if math.isnan(p_ab) and math.isnan(p_ba):
            return Combined(math.nan, None)
        total = d1 + d2
        return Combined(1.0 if total > 0 else 0.0 if total < 0 else 0.5, agree)
    if math.isnan(p_ab) or math.isnan(p_ba):
        return Combined(math.nan, None)
    if rule == "both_mean":
        return Combined((p_ab + (1.0 - p_ba)) / 2.0, agree)
    if rule == "both_agree_or_skip":
        return Combined(1.0 if d1 > 0 else 0.0, True) if agree else Combined(0.5, False, skipped=True)
    raise ValueError(f"unknown position rule {rule!r}; known: {', '.join(POSITION_RULES)}")


def aggregate(samples: Sequence[Sequence[float]], labels: Sequence[str | None], how: str) -> list[float]:
    """k parsed samples -> one per-slot value list (DeepSeek-GRM's inference-time scaling).

    ``mean`` averages each slot; ``vote`` takes the most common label and returns the mean of the samples
    carrying it (a tie between labels averages the tied labels' samples).
    """
    if not samples:
        raise ValueError("nothing to aggregate")
    if how == "mean" or all(label is None for label in labels):
        return [float(sum(col) / len(col)) for col in zip(*samples)]
    if how != "vote":
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {how!r}")
    counts = Counter(labels)
    top = max(counts.values())
    winners = {label for label, c in counts.items() if c == top}
    chosen = [s for s, label in zip(samples, labels) if label in winners]
    return [float(sum(col) / len(col)) for col in zip(*chosen)]


def net_win_rates(n: int, outcomes: dict[tuple[int, int], Combined]) -> list[float]:
    """Tournament value of each of ``n`` responses: (wins - losses) / (n - 1) (OpenJudge); skipped and failed
    pairs count neither way."""
    score = [0.0] * n
    for (i, j), c in outcomes.items():
        if c.skipped or math.isnan(c.p) or c.p == 0.5:
            continue
        winner, loser = (i, j) if c.p > 0.5 else (j, i)
        score[winner] += 1.0
        score[loser] -= 1.0
    return [s / (n - 1) for s in score] if n > 1 else [0.0] * n

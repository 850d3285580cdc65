"""Scoring many samples with any `Reward`, with a progress bar and throughput accounting.

Rewards score whole lists (the engine batches inside); this module feeds them in chunks so a progress bar
can move and a long job reports tokens/s as it goes. It is the one place the CLI, the evaluation runner and
the benchmarks call, so chunking never changes a score (the engine is batch- and order-invariant).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rewardlab.progress import progress_bar
from rewardlab.rewards.base import Reward
from rewardlab.types import PairRecord, Sample, Score

CHUNK = 256


@dataclass
class ScoringReport:
    """What happened during one scoring job: counts the summary tables and results.json report."""

    requested: int = 0
    scored: int = 0
    failed: int = 0
    seconds: float = 0.0
    real_tokens: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.real_tokens / self.seconds if self.seconds > 0 and self.real_tokens else 0.0

    @property
    def samples_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


def score_samples(
    reward: Reward, samples: Sequence[Sample], description: str = "scoring", show_progress: bool | None = None,
    chunk: int = CHUNK,
) -> tuple[list[Score], ScoringReport]:
    """Score ``samples`` in order; returns the scores and a report (failures counted, never hidden)."""
    report = ScoringReport(requested=len(samples))
    stats = getattr(reward, "stats", None)
    tokens_before = getattr(stats, "real_tokens", 0)
    scores: list[Score] = []
    start = time.perf_counter()
    with progress_bar(description, total=len(samples), enabled=show_progress) as bar:
        for lo in range(0, len(samples), chunk):
            part = reward.score(samples[lo : lo + chunk])
            if len(part) != len(samples[lo : lo + chunk]):
                raise RuntimeError(f"reward {reward.name} returned {len(part)} scores for "
                                   f"{len(samples[lo : lo + chunk])} samples")
            scores.extend(part)
            if bar is not None:
                elapsed = time.perf_counter() - start
                tokens = getattr(stats, "real_tokens", 0) - tokens_before
                rate = f"{tokens / elapsed:,.0f} tok/s" if tokens else f"{len(scores) / elapsed:,.1f} samples/s"
                bar.update(bar.task_ids[0], advance=len(part), rate=rate)
    report.seconds = time.perf_counter() - start
    report.real_tokens = getattr(stats, "real_tokens", 0) - tokens_before
    report.failed = sum(1 for s in scores if not s.ok)
    report.scored = len(scores) - report.failed
    return scores, report


def score_pairs(
    reward: Reward, pairs: Sequence[PairRecord], description: str = "scoring pairs",
    show_progress: bool | None = None,
) -> tuple[list[Score], list[Score], ScoringReport]:
    """Score both sides of every pair in one job (so the engine batches chosen and rejected together)."""
    samples = [s for pair in pairs for s in pair.samples()]
    scores, report = score_samples(reward, samples, description, show_progress)
    return scores[0::2], scores[1::2], report

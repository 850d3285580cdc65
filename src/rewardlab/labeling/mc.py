"""Monte-Carlo step labels (Math-Shepherd): from each prefix s_{1:t}, n completions by a policy, checked
by a verifier. Soft label q_t = c_t / n (the share that reaches the gold answer); hard label 1[c_t >= 1].

Cost: n rollouts for every step but the last (a full solution needs no completion: its label is the
verifier's verdict), i.e. (T - 1) * n rollouts for T steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Rollout = Callable[[Sequence[str], int], list[str]]
"""(prefix steps, n) -> n completions of the text after the prefix."""
Verify = Callable[[str], bool]
"""Whole solution text -> reaches the gold answer?"""


def join_steps(prefix: Sequence[str], completion: str = "") -> str:
    """A solution text: one step per line (the embedded world's convention), then the completion."""
    return "\n".join([*prefix, completion] if completion.strip() else list(prefix))


@dataclass
class StepLabels:
    """Labels for one solution.

    ``soft[t]`` is the estimated probability that the prefix ending at step t can still reach the gold
    answer (None where it was not estimated); ``hard[t]`` is 1.0 / 0.0 / None (unlabelled);
    ``first_error`` is the predicted first wrong step (-1: none). ``rollouts`` counts policy completions
    drawn, ``verifications`` verifier calls, ``probes`` prefixes examined.
    """

    soft: list[float | None]
    hard: list[float | None]
    first_error: int
    rollouts: int = 0
    verifications: int = 0
    probes: int = 0
    trace: list[tuple[int, float]] = field(default_factory=list)  # (step probed, estimate), in order


@dataclass
class Estimator:
    """Estimates q(prefix) with a rollout budget, counting what it spends."""

    rollout: Rollout
    verify: Verify
    join: Callable[[Sequence[str], str], str] = join_steps
    rollouts: int = 0
    verifications: int = 0

    def complete(self, steps: Sequence[str]) -> float:
        """The verdict on a whole solution: 1.0 or 0.0, no rollouts."""
        self.verifications += 1
        return 1.0 if self.verify(self.join(steps, "")) else 0.0

    def estimate(self, prefix: Sequence[str], n: int, stop_at_success: bool = False, chunk: int = 1) -> float:
        """Share of ``n`` completions of ``prefix`` that verify; with ``stop_at_success``, completions are
        drawn ``chunk`` at a time and drawing stops at the first success (only q > 0 is needed then), and
        the share is over the completions actually drawn."""
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        drawn = hits = 0
        while drawn < n:
            want = min(chunk, n - drawn) if stop_at_success else n - drawn
            completions = self.rollout(prefix, want)
            if len(completions) != want:
                raise RuntimeError(f"rollout returned {len(completions)} completions, {want} were asked for")
            self.rollouts += want
            self.verifications += want
            hits += sum(bool(self.verify(self.join(prefix, c))) for c in completions)
            drawn += want
            if stop_at_success and hits:
                break
        return hits / drawn


def mc_labels(steps: Sequence[str], rollout: Rollout, verify: Verify, n: int = 8,
              join: Callable[[Sequence[str], str], str] = join_steps) -> StepLabels:
    """Math-Shepherd labels for every step; the predicted first error is the first step with c_t = 0."""
    if not steps:
        raise ValueError("a solution needs at least one step")
    est = Estimator(rollout, verify, join)
    soft: list[float | None] = []
    trace = []
    for t in range(len(steps)):
        prefix = steps[: t + 1]
        q = est.complete(prefix) if t == len(steps) - 1 else est.estimate(prefix, n)
        soft.append(q)
        trace.append((t, q))
    hard: list[float | None] = [1.0 if q and q > 0 else 0.0 for q in soft]
    first = next((t for t, h in enumerate(hard) if h == 0.0), -1)
    return StepLabels(soft, hard, first, est.rollouts, est.verifications, len(steps), trace)

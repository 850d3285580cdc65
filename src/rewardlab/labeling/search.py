"""OmegaPRM-style binary search for the first wrong step (*Improve Mathematical Reasoning in Language
Models by Automated Process Supervision*), RESEARCH 3.

For a solution whose final answer is wrong, the first wrong step is the first prefix from which no
completion reaches the gold answer (q = 0), assuming recoverability only decreases along the solution.
Binary search finds it with about log2(T) prefix probes instead of T, and each probe may stop at its
first successful completion because only q > 0 matters. With finite n, q = 0 is noisy: a recoverable
prefix whose n completions all fail is called wrong (the same error MC hard labels make).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rewardlab.labeling.mc import Estimator, Rollout, StepLabels, Verify, join_steps


def binary_search_labels(steps: Sequence[str], rollout: Rollout, verify: Verify, n: int = 8,
                         chunk: int = 1, join: Callable[[Sequence[str], str], str] = join_steps) -> StepLabels:
    """Labels: steps before the found error 1.0, the error 0.0, later steps None (unlabelled).

    A solution whose final answer verifies is labelled all-correct without rollouts (first_error -1):
    outcome-correct solutions with a flawed step are invisible to rollout methods.
    """
    if not steps:
        raise ValueError("a solution needs at least one step")
    est = Estimator(rollout, verify, join)
    last = len(steps) - 1
    final = est.complete(steps)
    trace = [(last, final)]
    soft: list[float | None] = [None] * len(steps)
    soft[last] = final
    if final > 0:
        return StepLabels(soft, [1.0] * len(steps), -1, est.rollouts, est.verifications, 1, trace)
    lo, hi = 0, last  # invariant: q(hi) = 0 is known, every step before lo is recoverable
    while lo < hi:
        mid = (lo + hi) // 2
        q = est.estimate(steps[: mid + 1], n, stop_at_success=True, chunk=chunk)
        soft[mid] = q
        trace.append((mid, q))
        if q > 0:
            lo = mid + 1
        else:
            hi = mid
    hard: list[float | None] = [1.0] * lo + [0.0] + [None] * (last - lo)
    return StepLabels(soft, hard, lo, est.rollouts, est.verifications, len(trace), trace)

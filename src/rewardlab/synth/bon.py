"""Best-of-N baselines that are not "pick the top score": majority vote and random choice.

Reward-model and oracle curves use `rewardlab.evaluate.metrics.best_of_n_curve` (exact over all subsets).
Majority vote is not the argmax of a per-candidate score, so its curve is estimated here by averaging
over random N-subsets (RESEARCH 4.10), seeded, with the number of subsets reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def answer_ids(answers: Sequence[Sequence[object | None]]) -> np.ndarray:
    """Per-group integer ids of the answers, shape (groups, M); -1 where a candidate states no answer.

    Ids are local to a group: equal answers in one group share an id.
    """
    rows = []
    for group in answers:
        seen: dict[object, int] = {}
        rows.append([-1 if a is None else seen.setdefault(a, len(seen)) for a in group])
    return np.asarray(rows, dtype=np.int64)


def majority_vote_curve(ids: np.ndarray, correct: np.ndarray, ns: Sequence[int], subsets: int = 256,
                        seed: int = 0) -> list[dict[str, float]]:
    """Expected accuracy of majority voting over N random candidates, for each N in ``ns``.

    ``ids`` (groups, M) from `answer_ids`; ``correct`` (groups, M) bool, the verifier's label of each
    candidate (equal answers have equal labels). A vote among N candidates picks the most frequent stated
    answer, ties broken uniformly at random; candidates without an answer abstain, and a subset where all
    abstain scores 0. Each value averages ``subsets`` random N-subsets per group (drawn without
    replacement within a subset); N = M is exact (one subset).
    """
    ids, correct = np.asarray(ids), np.asarray(correct, dtype=bool)
    if ids.shape != correct.shape or ids.ndim != 2:
        raise ValueError(f"ids {ids.shape} and correct {correct.shape} must be the same 2-D shape")
    groups, m = ids.shape
    rng = np.random.default_rng(seed)
    rows = []
    for n in ns:
        if not 1 <= n <= m:
            raise ValueError(f"N={n} is outside 1..{m}")
        draws = 1 if n == m else subsets
        total = 0.0
        for g in range(groups):
            k = int(ids[g].max()) + 1
            if k == 0:
                continue  # nobody answered: every vote is wrong
            onehot = np.zeros((m, k))
            answered = ids[g] >= 0
            onehot[np.flatnonzero(answered), ids[g][answered]] = 1.0
            answer_correct = np.zeros(k, dtype=bool)
            answer_correct[ids[g][answered]] = correct[g][answered]
            picks = np.argsort(rng.random((draws, m)), axis=1)[:, :n]
            votes = onehot[picks].sum(axis=1)  # (draws, k)
            noisy = votes + rng.random(votes.shape) * 0.5  # uniform tie-breaking among equal counts
            winner = noisy.argmax(axis=1)
            ok = answer_correct[winner] & (votes.max(axis=1) > 0)
            total += ok.mean()
        rows.append({"n": int(n), "gold": float(total / groups) if groups else float("nan"), "subsets": draws})
    return rows

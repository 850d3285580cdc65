"""Which reward helps the policy: best-of-M of every selection rule with CIs, and paired differences.

For each evaluation problem, each rule gets one number: the expected correctness of the candidate it picks
from the problem's whole pool of M candidates. For a reward's pick (its top candidate) that is the exact
expectation over ties (`rewardlab.evaluate.metrics.best_of_n_expectations`); for majority vote the share of
the most-voted answers (ties split evenly) that are right, and the same for a reward-weighted vote, where
each candidate's vote is its reward (Uesato et al. 2022; Lightman et al. 2023: the usual way to spend a
verifier on a pool whose right answers agree); for random the pool's share of right candidates. CIs are
percentile bootstraps over problems (1000 resamples, seeded): `bootstrap_ci` for a rule's accuracy and
`paired_bootstrap` (the same resampled problems for both rules) for a difference, so a difference whose CI
excludes 0 is one that problem-to-problem luck does not explain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.search.answers import answer_ids
from rewardlab.search.voting import vote_expectations


def weighted_vote_full_pool(answers: Sequence[Sequence[object | None]], correct: np.ndarray,
                            weights: np.ndarray | None = None) -> np.ndarray:
    """Per problem, the exact accuracy of a (weighted) majority vote over the whole pool, shape (problems,).

    Each candidate adds its weight (>= 0; None: one vote each) to its answer's tally and the heaviest answer
    wins; candidates without an answer abstain; among tied answers one is drawn uniformly, so the value is
    the share of those tied answers that are right; a pool where nobody answers scores 0. This is
    `rewardlab.search.voting.vote_expectations` at N = M (one draw: the whole pool), per problem.
    """
    correct = np.asarray(correct, dtype=bool)
    return vote_expectations(answer_ids(answers), correct, [correct.shape[1]], weights=weights)[:, 0]


def majority_full_pool(answers: Sequence[Sequence[object | None]], correct: np.ndarray) -> np.ndarray:
    """Per problem, the exact accuracy of a plain majority vote over the whole pool: `weighted_vote_full_pool`
    with one vote per candidate."""
    return weighted_vote_full_pool(answers, correct)


def vote_rule(reward: str) -> str:
    """The name of the weighted-majority-vote rule that ``reward``'s values weight."""
    return f"{reward}, weighted vote"


def reward_of(rule: str) -> str:
    """The learned reward a selection rule uses (the inverse of `vote_rule`): the rule's own name, or the
    reward whose values weight a vote."""
    suffix = vote_rule("")
    return rule[: -len(suffix)] if rule.endswith(suffix) else rule


def per_problem(scores: dict[str, np.ndarray], correct: np.ndarray, answers: Sequence[Sequence[object | None]],
                votes: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Best-of-M value of every rule per problem: each reward in ``scores`` (problems, M) picking its top
    candidate, each reward in ``votes`` (problems, M; its values as vote weights) weighting a majority vote
    (`vote_rule`), then majority vote, random and the oracle verifier (pass@M)."""
    from rewardlab.evaluate.metrics import best_of_n_expectations

    gold = np.asarray(correct, dtype=np.float64)
    m = gold.shape[1]
    out = {name: best_of_n_expectations(s, gold, [m])[0][:, 0] for name, s in scores.items()}
    for name, weights in (votes or {}).items():
        out[vote_rule(name)] = weighted_vote_full_pool(answers, correct, weights)
    out["majority vote"] = majority_full_pool(answers, correct)
    out["random"] = gold.mean(axis=1)
    out["oracle (verifier)"] = gold.max(axis=1)
    return out


def comparison(values: dict[str, np.ndarray], learned: Sequence[str],
               baselines: Sequence[str] = ("random", "majority vote")) -> dict[str, Any]:
    """Accuracy with CI for every rule; for each learned reward its paired difference from each baseline
    and whether every one of those CIs lies above 0 (``beats_baselines``)."""
    from rewardlab.evaluate.metrics import bootstrap_ci, paired_bootstrap

    rules: dict[str, Any] = {}
    for name, v in values.items():
        keep = v[np.isfinite(v)]
        low, high = bootstrap_ci(keep)
        rules[name] = {"accuracy": float(keep.mean()) if len(keep) else float("nan"), "ci_low": low,
                       "ci_high": high, "problems": int(len(keep)), "failed": int(len(v) - len(keep))}
    for name in learned:
        diffs = {}
        for base in baselines:
            d = paired_bootstrap(values[name], values[base])
            diffs[base] = {k: d[k] for k in ("diff", "ci_low", "ci_high", "p_value", "n")}
        rules[name]["vs"] = diffs
        rules[name]["beats_baselines"] = all(d["ci_low"] > 0 for d in diffs.values())
    return {"rules": rules, "learned": list(learned), "baselines": list(baselines),
            "ci": "95% percentile bootstrap over problems (1000 resamples, seed 0); differences paired"}

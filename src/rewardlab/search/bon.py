"""Best-of-N over pools of candidates: pick by the reward, by a majority vote, or by a reward-weighted vote.

A pool is one prompt's candidates (from a file, or sampled by `rewardlab.search.pools`). Every candidate
is scored once (through `rewardlab.scoring.score_samples`: chunked, batched, progress shown); then each
rule picks one candidate per prompt:

- ``reward``: the highest reward (the first of equal scores; failed scores never win);
- ``vote``: self-consistency, one vote per stated final answer (no reward needed);
- ``weighted-vote``: each candidate adds its reward to its answer's tally (an outcome RM's value, a PRM's
  step scores aggregated by ``prm_agg`` = min / last / product, or a judge's score).

Candidates whose answer cannot be extracted abstain from voting and are counted; failed scores are
counted and vote 0. With gold labels (the file's ``correct``, or a ``verifier`` reward such as
``rule:math`` against each prompt's reference), the summary gives each rule's accuracy with a CI and the
curves over N (`rewardlab.search.curves`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.rewards.base import Reward
from rewardlab.search.answers import answer_ids, extract_all
from rewardlab.search.voting import vote_pick, vote_weights
from rewardlab.types import CandidatesRecord, Prompt, Sample, Score

METHODS = ("reward", "vote", "weighted-vote")
PRM_AGGREGATIONS = ("min", "last", "product")


@dataclass
class Pool:
    """One prompt and its candidates; ``tokens[j]`` is what candidate j cost to generate, when known."""

    id: str
    prompt: Prompt
    responses: list[str]
    reference: str | None = None
    correct: list[bool] | None = None
    tokens: list[int | None] | None = None
    subset: str = "default"
    source: str | None = None


def pools_from_records(records: Sequence[CandidatesRecord]) -> list[Pool]:
    return [Pool(id=r.id or r.source or str(i), prompt=r.prompt, responses=list(r.responses), reference=r.reference,
                 correct=list(r.correct) if r.correct is not None else None, subset=r.subset, source=r.source)
            for i, r in enumerate(records)]


@dataclass(frozen=True)
class BonConfig:
    """``select``: the rule whose pick is written; ``answer``: the extractor (`rewardlab.search.answers`);
    ``weighting``: how rewards become votes (`rewardlab.search.voting.vote_weights`); ``prm_agg``: recompute
    each candidate's value from its step scores (None: the reward's own value)."""

    select: str = "reward"
    answer: str = "math"
    weighting: str = "raw"
    prm_agg: str | None = None
    subsets: int = 256
    seed: int = 0
    ns: tuple[int, ...] | None = None
    curves: bool = True

    def __post_init__(self) -> None:
        if self.select not in METHODS:
            raise ValueError(f"unknown selection {self.select!r}; expected one of {', '.join(METHODS)}")
        if self.prm_agg is not None and self.prm_agg not in PRM_AGGREGATIONS:
            raise ValueError(f"unknown PRM aggregation {self.prm_agg!r}; expected one of {', '.join(PRM_AGGREGATIONS)}")


def candidate_value(score: Score, prm_agg: str | None) -> float:
    """The value a candidate is ranked and weighted by; NaN when its score failed."""
    if not score.ok:
        return math.nan
    if prm_agg is None:
        return float(score.value)
    if not score.steps:
        raise ValueError(f"prm_agg={prm_agg} needs step scores, but the reward returned none (not a PRM?)")
    from rewardlab.rewards.process import aggregate

    return aggregate(score.steps, prm_agg)


def score_pools(reward: Reward, pools: Sequence[Pool], show_progress: bool | None = None,
                chunk: int = 256) -> list[list[Score]]:
    from rewardlab.scoring import score_samples

    samples = [Sample(p.prompt, r, reference=p.reference, metadata={"id": p.id}) for p in pools for r in p.responses]
    flat, _ = score_samples(reward, samples, description="scoring candidates", show_progress=show_progress,
                            chunk=chunk)
    it = iter(flat)
    return [[next(it) for _ in p.responses] for p in pools]


def gold_labels(pools: Sequence[Pool], verifier: Reward | None,
                show_progress: bool | None = None) -> list[list[bool]] | None:
    """The file's ``correct`` labels where every pool has them, else the verifier's (value >= 0.5 is right;
    a verifier failure counts as wrong), else None."""
    if pools and all(p.correct is not None for p in pools):
        return [list(p.correct or []) for p in pools]
    if verifier is None:
        return None
    scores = score_pools(verifier, pools, show_progress)
    return [[s.ok and s.value >= 0.5 for s in row] for row in scores]


@dataclass
class BonResult:
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    picks: dict[str, list[int | None]] = field(default_factory=dict)


def run_bon(pools: Sequence[Pool], reward: Reward | None, config: BonConfig = BonConfig(),
            verifier: Reward | None = None, show_progress: bool | None = None) -> BonResult:
    """Score, extract answers, pick by every applicable rule, and summarise (see the module docstring)."""
    if reward is None and config.select != "vote":
        raise ValueError(f"selection {config.select!r} needs a reward; only 'vote' (self-consistency) works without")
    scores = score_pools(reward, pools, show_progress) if reward is not None else None
    values = ([[candidate_value(s, config.prm_agg) for s in row] for row in scores] if scores is not None else None)
    extracted = extract_all([p.responses for p in pools], config.answer)
    gold = gold_labels(pools, verifier, show_progress)
    methods = ["vote"] if reward is None else list(METHODS)
    picks: dict[str, list[int | None]] = {m: [] for m in methods}
    tallies: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    weights: list[np.ndarray] = []
    for i in range(len(pools)):
        answers = extracted.answers[i]
        if values is not None:
            v = values[i]
            ok = [j for j, x in enumerate(v) if math.isfinite(x)]
            picks["reward"].append(max(ok, key=lambda j: (v[j], -j)) if ok else None)
            tallies["reward"].append({})
            w = vote_weights(v, config.weighting)
            weights.append(w)
            result = vote_pick(answers, w)
            picks["weighted-vote"].append(result.index)
            tallies["weighted-vote"].append(result.tallies)
        result = vote_pick(answers)
        picks["vote"].append(result.index)
        tallies["vote"].append(result.tallies)

    rows = []
    for i, pool in enumerate(pools):
        pick = picks[config.select][i]
        cands = []
        for j, response in enumerate(pool.responses):
            cand: dict[str, Any] = {"index": j, "response": response, "answer": extracted.answers[i][j]}
            if scores is not None:
                s = scores[i][j]
                cand.update(score=_num(s.value), value=_num(values[i][j]), steps=s.steps, error=s.failure_reason)
            if gold is not None:
                cand["correct"] = bool(gold[i][j])
            if pool.tokens is not None:
                cand["tokens"] = pool.tokens[j]
            cands.append(cand)
        row: dict[str, Any] = {"id": pool.id, "prompt": pool.prompt, "method": config.select,
                               "chosen_index": pick, "chosen": pool.responses[pick] if pick is not None else None,
                               "answer": extracted.answers[i][pick] if pick is not None else None,
                               "correct": (bool(gold[i][pick]) if gold is not None and pick is not None else None),
                               "picks": {m: picks[m][i] for m in methods}}
        if config.select != "reward":
            row["votes"] = tallies[config.select][i]
        if pick is None:
            row["error"] = "no candidate could be picked (every score failed, or no answer to vote on)"
        row["candidates"] = cands
        rows.append(row)

    summary: dict[str, Any] = {
        "prompts": len(pools), "candidates": extracted.candidates, "select": config.select,
        "answer_extractor": config.answer if isinstance(config.answer, str) else "custom",
        "abstained": extracted.abstained, "weighting": config.weighting, "prm_agg": config.prm_agg,
        "reward": getattr(reward, "name", None), "verifier": getattr(verifier, "name", None),
        "gold": None if gold is None else ("file" if all(p.correct is not None for p in pools) else "verifier"),
        "no_pick": sum(r["chosen_index"] is None for r in rows),
    }
    if scores is not None:
        summary["failed_scores"] = sum(not s.ok for row in scores for s in row)
    if gold is not None:
        summary["accuracy"] = {m: _accuracy(picks[m], gold) for m in methods}
    if config.curves and pools and len({len(p.responses) for p in pools}) == 1:
        from rewardlab.search.curves import search_curves

        ids = answer_ids(extracted.answers)
        s = np.asarray(values, dtype=np.float64) if values is not None else None
        g = np.asarray(gold, dtype=np.float64) if gold is not None else None
        if s is None and g is not None:
            from rewardlab.evaluate.metrics import default_best_of_n_sizes
            from rewardlab.search.voting import vote_curve

            ns = list(config.ns) if config.ns else default_best_of_n_sizes(ids.shape[1])
            summary["curves"] = {"pool_size": ids.shape[1], "ns": ns, "curves": {
                "majority vote": vote_curve(ids, g >= 0.5, ns, None, config.subsets, config.seed, ci=True)}}
        elif s is not None:
            summary["curves"] = search_curves(s, g, ids, np.stack(weights), list(config.ns) if config.ns else None,
                                              config.subsets, config.seed)
    elif config.curves and pools:
        summary["curves_skipped"] = "pools differ in size; curves need one pool size M"
    return BonResult(rows, summary, picks)


def _accuracy(picks: list[int | None], gold: list[list[bool]]) -> dict[str, Any]:
    from rewardlab.evaluate.metrics import bootstrap_ci

    credit = np.asarray([float(g[p]) if p is not None else 0.0 for p, g in zip(picks, gold)])
    low, high = bootstrap_ci(credit)
    return {"value": float(credit.mean()) if len(credit) else math.nan, "ci_low": low, "ci_high": high,
            "n": int(len(credit))}


def _num(value: float) -> float | None:
    return value if math.isfinite(value) else None

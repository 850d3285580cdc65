"""Benchmarks scored by a generative judge, each under its own published counting rule.

A pairwise judge gives no score per response, so the runner hands these cases here (`handles`):
- **pairwise files**: every pair is judged in both orders in one backend call (so eval's position-bias
  diagnostics run on every judge). The headline counts by the benchmark's own rule:
  JudgeBench ``both_vote_sum`` (+1 / -1 per order, right iff the sum > 0; a failed order counts 0, as in
  ScalerLab/JudgeBench utils/metrics.py), LLMBar ``both_mean`` (the mean of the two orders' accuracies, an
  unparsable verdict wrong, princeton-nlp/LLMBar), any other file the judge's own position rule (``single``:
  one random order per pair, RewardBench).
- **RM-Bench**: the 3 x 3 matrix of chosen style i against rejected style j is judged directly, 9 pairs per
  prompt, so easy / normal / hard come from the judge's own verdicts.
- **best-of-N / RewardBench 2 groups** with a group protocol (``four_way``, ``group``, ``tournament``): each
  record is one group (RewardBench 2's Ties rows are rated 1-10), then the usual best-of-N metrics.
Pointwise judges (``rating``, ``prometheus``, ``correctness``, ``rubric``) need none of this: they score
responses like any reward and go through the ordinary path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.evaluate import metrics as m
from rewardlab.evaluate.analysis import RM_BENCH_DOMAINS, Scored, Settings
from rewardlab.rewards.judge import rules
from rewardlab.rewards.judge.protocols import question_text

COUNTING = {"judgebench": "both_vote_sum", "llmbar": "both_mean"}
COUNTING_SOURCE = {"both_vote_sum": "JudgeBench", "both_mean": "LLMBar", "single": "RewardBench",
                   "both_agree_or_skip": "OpenJudge"}


def handles(reward: Any, kind: str) -> bool:
    """Whether this reward needs the judge path for a benchmark kind (a clear error where it cannot run)."""
    pairwise, groups = getattr(reward, "judges_pairs", False), getattr(reward, "judges_groups", False)
    if pairwise and kind == "best-of-n":
        raise ValueError("a pairwise judge has no score per response for best-of-N groups; use "
                         "protocol=four_way (RewardBench 2), group or tournament, or a pointwise protocol")
    return (pairwise and kind in ("pairwise", "rm-bench")) or (groups and kind in ("best-of-n", "rm-bench"))


def score_benchmark(reward: Any, bench: Any, progress: bool | None) -> tuple[Scored, dict[str, Any]]:
    import time

    from rewardlab.evaluate.runner import response_lengths, unique_ids

    start = time.perf_counter()
    before = reward.generator.stats.to_dict()
    if bench.kind == "pairwise":
        values, errors, position, counting = _pairwise(reward, bench)
    elif getattr(reward, "judges_pairs", False):
        values, errors, position, counting = _rm_bench_pairs(reward, bench)
    else:
        values, errors, position, counting = _groups(reward, bench)
    texts = [s.response for r in bench.records for s in r.samples()]
    lengths, at = [], 0
    flat = response_lengths(reward, texts)
    for v in values:
        lengths.append(np.asarray(flat[at:at + len(v)], dtype=np.float64))
        at += len(v)
    correct = [np.array([True, False]) if bench.kind == "pairwise" else np.asarray(r.correct, dtype=bool)
               for r in bench.records]
    scored = Scored(bench.kind, values, correct, lengths, [r.subset for r in bench.records],
                    unique_ids(bench.records), errors, position)
    after = reward.generator.stats.to_dict()
    seconds = time.perf_counter() - start
    info = {"sequences": len(texts), "failed_records": sum(e is not None for e in errors), "seconds": seconds,
            "judge": {k: after[k] - before[k] for k in ("requests", "completions", "cached_completions",
                                                         "prompt_tokens", "completion_tokens", "failures")},
            "length_unit": "words"}
    if counting is not None:
        info["judge_counting"] = counting
    if progress is not False:
        from rewardlab.progress import console

        console.print(f"{bench.name}: judged {len(bench.records):,} records in {seconds:,.1f} s "
                      f"({info['failed_records']} failed, {info['judge']['completion_tokens']:,} generated tokens, "
                      f"{info['judge']['cached_completions']:,} cached)", highlight=False)
    return scored, info


def _pairwise(reward: Any, bench: Any) -> tuple[list[np.ndarray], list[str | None], Any, dict[str, Any]]:
    pairs = [r.samples() for r in bench.records]
    orders = reward.both_orders(pairs)
    p1 = np.array([_first(a) for a, _ in orders])
    p2 = np.array([_first(b) for _, b in orders])
    rule = COUNTING.get(bench.name) or reward.config.position_rule
    if rule == "single":
        swaps = [rules.single_order_swaps(reward.config.seed, question_text(c.prompt), c.response, r.response)
                 for c, r in pairs]
        p = np.array([1.0 - b if s else a for a, b, s in zip(p1, p2, swaps)])
    else:
        p = np.array([rules.combine_orders(rule, a, b).p for a, b in zip(p1, p2)])
    if rule == "both_vote_sum":
        credit = (p > 0.5).astype(np.float64)  # JudgeBench: a tie or a failed pair is simply not right
    elif rule == "both_mean":
        credit = ((p1 > 0.5).astype(float) + (p2 < 0.5).astype(float)) / 2.0  # LLMBar: unparsable = wrong
    else:
        credit = m.pairwise_credit(p, 1.0 - p)
    values = [np.array([x, 1.0 - x]) for x in p]
    errors = [None if not math.isnan(x) else (a.error or b.error or "judge failed")
              for x, (a, b) in zip(p, orders)]
    failed_orders = int(np.isnan(p1).sum() + np.isnan(p2).sum())
    counting = {"rule": rule, "source": COUNTING_SOURCE[rule], "credit": credit, "failed_orders": failed_orders,
                "orders_judged": 2 * len(pairs)}
    return values, errors, (p1, p2), counting


def _first(judged: Any) -> float:
    return judged.values[0] if judged.values is not None else math.nan


def _rm_bench_pairs(reward: Any, bench: Any) -> tuple[list[np.ndarray], list[str | None], None, dict[str, Any]]:
    """RM-Bench by direct comparison: win[i, j] = the judge prefers chosen style i to rejected style j."""
    pairs, index = [], []
    for k, record in enumerate(bench.records):
        samples = record.samples()
        for i in range(3):
            for j in range(3):
                pairs.append((samples[i], samples[3 + j]))
                index.append((k, i, j))
    verdicts = reward.compare_pairs(pairs)
    win = np.full((len(bench.records), 3, 3), np.nan)
    errors: list[str | None] = [None] * len(bench.records)
    for (k, i, j), v in zip(index, verdicts):
        win[k, i, j] = np.nan if math.isnan(v.p) else float(v.p > 0.5)
        if math.isnan(v.p) and errors[k] is None:
            errors[k] = v.error or "judge failed"
    values = []
    for w in win:  # each response's share of its comparisons won, for the distribution diagnostics only
        chosen, rejected = np.nanmean(w, axis=1), np.nanmean(1.0 - w, axis=0)
        values.append(np.full(6, np.nan) if np.isnan(w).any() else np.r_[chosen, rejected])
    return values, errors, None, {"rule": reward.config.position_rule, "source": "RM-Bench (judged pairs)",
                                  "win": win}


def _groups(reward: Any, bench: Any) -> tuple[list[np.ndarray], list[str | None], None, None]:
    from rewardlab.generation import run_sync

    async def judge_all() -> list[list[Any]]:
        import asyncio

        return await asyncio.gather(*(reward.ascore_group(r.samples()) for r in bench.records))

    values, errors = [], []
    for scores in run_sync(judge_all()):
        values.append(np.array([s.value if s.ok else math.nan for s in scores], dtype=np.float64))
        errors.append(next((s.error or "judge failed" for s in scores if not s.ok), None))
    return values, errors, None, None


def apply_counting(metrics: dict[str, Any], counting: dict[str, Any], subsets: Sequence[str],
                   settings: Settings) -> dict[str, Any]:
    """Put the benchmark's own counting rule in ``primary`` (the generic metrics stay beside it)."""
    if "win" in counting:
        return _apply_rm_bench(metrics, counting, subsets, settings)
    credit = np.asarray(counting["credit"], dtype=np.float64)
    acc = m.accuracy_from_credit(credit, 0, settings.resamples, settings.seed).to_dict()
    by_subset = {}
    for name in sorted(set(subsets)):
        idx = np.array([i for i, s in enumerate(subsets) if s == name])
        by_subset[name] = m.accuracy_from_credit(credit[idx], 0, settings.resamples, settings.seed).to_dict()
    metrics["judge_counting"] = {"rule": counting["rule"], "source": counting["source"], "accuracy": acc,
                                 "subsets": by_subset, "failed_orders": counting["failed_orders"],
                                 "orders_judged": counting["orders_judged"]}
    metrics["primary"] = {"name": f"accuracy ({counting['source']} rule: {counting['rule']})", **acc,
                          "failed_orders": counting["failed_orders"]}  # counted by the rule, shown beside it
    return metrics


def _apply_rm_bench(metrics: dict[str, Any], counting: dict[str, Any], subsets: Sequence[str],
                    settings: Settings) -> dict[str, Any]:
    win = counting["win"]
    ok = ~np.isnan(win).any(axis=(1, 2))
    credit = np.where(ok, np.nanmean(win, axis=(1, 2)), np.nan)
    domains: dict[str, list[int]] = {}
    for i, name in enumerate(subsets):
        domains.setdefault(RM_BENCH_DOMAINS.get(name, name), []).append(i)
    blocks = {}
    for name, idx in domains.items():
        keep = [i for i in idx if ok[i]]
        matrix = win[keep].mean(axis=0) if keep else np.full((3, 3), np.nan)
        blocks[name] = {**m.rm_bench_difficulty(matrix), "matrix": matrix.tolist()}
    value, low, high = m.stratified_bootstrap([credit[np.array(i)] for i in domains.values()], None,
                                              settings.resamples, settings.seed)
    failed = int((~ok).sum())
    metrics["difficulty"] = {k: float(np.nanmean([b[k] for b in blocks.values()])) for k in ("easy", "normal", "hard")}
    metrics["judge_counting"] = {"rule": counting["rule"], "source": counting["source"], "domains": blocks}
    metrics["primary"] = {"name": "RM-Bench average (judged pairs)", "value": value, "ci_low": low, "ci_high": high,
                          "n": len(credit), "scored": len(credit) - failed, "failed": failed}
    return metrics

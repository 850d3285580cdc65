"""Judging the N responses to one prompt together: four-way choice, one listwise call, or a tournament.

- ``four_way`` (RewardBench 2): exactly 4 responses; candidate 0 is swapped into a random slot
  (`rules.four_way_slots`), the judge names the best; each response's value is its slot's value (1 for
  the pick in generate mode, its normalised probability in logprob mode).
- ``group`` (RULER-style): the prompt is shown once, the responses by id; the judge returns a score in
  [0, 1] per id. Bad JSON, a missing id or a score outside [0, 1] fails the whole group (counted).
- ``tournament``: every pair judged (both orders under ``both_agree_or_skip``, the default), each
  response's value its net win rate (wins - losses) / (N - 1) (OpenJudge's GRPO tournament).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

from rewardlab.rewards.judge import rules
from rewardlab.rewards.judge.engine import Item, judge_items
from rewardlab.rewards.judge.protocols import question_text
from rewardlab.types import Sample, Score

if TYPE_CHECKING:
    from rewardlab.rewards.judge.reward import JudgeReward

MAX_GROUP = 64


def _check_one_prompt(samples: Sequence[Sample]) -> str | None:
    if any(s.prompt != samples[0].prompt for s in samples):
        return "a group must share one prompt"
    if len(samples) > MAX_GROUP:
        return f"groups of at most {MAX_GROUP} responses, got {len(samples)}"
    return None


async def score_four_way(judge: JudgeReward, samples: Sequence[Sample]) -> list[Score]:
    problem = _check_one_prompt(samples) or (None if len(samples) == 4 else
                                              f"four_way judges exactly 4 responses, got {len(samples)}")
    if problem:
        return [Score.failure(problem) for _ in samples]
    question = question_text(samples[0].prompt)
    answers = [s.response for s in samples]
    slots = rules.four_way_slots(judge.config.seed, question, answers)
    item = Item(judge.protocol.render(question, [answers[c] for c in slots], samples[0].reference), 4)
    (judged,) = await judge_items(judge.generator, judge.protocol, judge.config, [item])
    if judged.values is None:
        return [Score(math.nan, rationale=judged.rationale or None, error=judged.error) for _ in samples]
    values = [0.0] * 4
    for slot, candidate in enumerate(slots):
        values[candidate] = judged.values[slot]
    components = {"slot": 0.0, **judged.components}
    return [Score(values[c], components={**components, "slot": float(slots.index(c))}, rationale=judged.rationale)
            for c in range(4)]


async def score_listwise(judge: JudgeReward, samples: Sequence[Sample]) -> list[Score]:
    problem = _check_one_prompt(samples)
    if problem:
        return [Score.failure(problem) for _ in samples]
    item = Item(judge.protocol.render(question_text(samples[0].prompt), [s.response for s in samples],
                                      samples[0].reference), len(samples))
    (judged,) = await judge_items(judge.generator, judge.protocol, judge.config, [item])
    if judged.values is None:
        return [Score(math.nan, rationale=judged.rationale or None, error=judged.error) for _ in samples]
    return [Score(v, components=dict(judged.components), rationale=judged.rationale) for v in judged.values]


async def score_tournament(judge: JudgeReward, samples: Sequence[Sample]) -> list[Score]:
    problem = _check_one_prompt(samples)
    if problem:
        return [Score.failure(problem) for _ in samples]
    n = len(samples)
    pairs = list(combinations(range(n), 2))
    verdicts = await judge.acompare_pairs([(samples[i], samples[j]) for i, j in pairs])
    outcomes = {pair: rules.Combined(v.p, v.agree, v.skipped) for pair, v in zip(pairs, verdicts)}
    rates = rules.net_win_rates(n, outcomes)
    decided = sum(1 for c in outcomes.values() if not c.skipped and not math.isnan(c.p))
    failed = sum(1 for c in outcomes.values() if math.isnan(c.p))
    components = {"pairs": float(len(pairs)), "pairs_decided": float(decided), "pairs_failed": float(failed),
                  "pairs_skipped": float(sum(c.skipped for c in outcomes.values()))}
    if pairs and failed == len(pairs):
        return [Score.failure(verdicts[0].error or "every pair failed") for _ in samples]
    rule = judge.config.position_rule
    return [Score(r, components=dict(components), rationale=f"tournament of {n} under {rule}") for r in rates]

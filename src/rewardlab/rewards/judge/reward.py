"""`JudgeReward`: a generative judge as a `Reward`, and as a `PairwiseReward` for pairwise protocols.

- ``score(samples)``: pointwise protocols score each sample; a pairwise judge scores a sample against the
  baseline response in ``metadata["baseline"]`` (or ``"reference_response"``), value P(a) - P(b) in
  [-1, 1]; group protocols (``four_way``, ``group``, ``tournament``) score each run of consecutive samples
  that share a prompt as one group.
- ``compare(a, b)`` / ``compare_pairs``: P(a better than b) in [0, 1] under the position rule.
- ``score_group(samples)``: one group of responses to one prompt.
- ``both_orders(pairs)``: the raw verdicts with a first then with b first, for benchmarks that count by
  their own rule (JudgeBench, LLMBar: `rewardlab.evaluate.judging`).
Every method has an ``a``-prefixed coroutine twin; the sync ones run it (safe inside a running loop).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.generation import Generator, run_sync
from rewardlab.rewards.judge import rules
from rewardlab.rewards.judge.config import JudgeConfig
from rewardlab.rewards.judge.engine import Item, Judged, judge_items
from rewardlab.rewards.judge.protocols import Rating, make_protocol, question_text
from rewardlab.types import Sample, Score

BASELINE_KEYS = ("baseline", "reference_response")


@dataclass
class PairJudgement:
    """P(``a`` better than ``b``) and how it was reached: ``p_ab`` / ``p_ba`` are P(first slot wins) with a
    first and with b first (NaN where that order was not judged or failed)."""

    p: float
    rule: str
    p_ab: float = math.nan
    p_ba: float = math.nan
    agree: bool | None = None
    skipped: bool = False
    rationale: str = ""
    error: str | None = None


class JudgeReward:
    """A judge built from a generation backend, a protocol and its rules (`JudgeConfig`)."""

    def __init__(self, generator: Generator, config: JudgeConfig | None = None, spec: str | None = None):
        self.generator = generator
        self.config = config or JudgeConfig()
        self.protocol = make_protocol(self.config.protocol, **self.config.protocol_options)
        self.name = f"judge:{spec}" if spec else f"judge:{generator.name},protocol={self.config.protocol}"
        self.stats = generator.stats

    @property
    def judges_pairs(self) -> bool:
        """Two answers per judgement: ``compare`` applies (``pairwise`` and plugin protocols with 2 slots)."""
        return self.protocol.kind == "pairwise" and self.config.protocol != "tournament"

    @property
    def judges_groups(self) -> bool:
        """A prompt's responses are judged together (four-way, group, tournament)."""
        return self.config.protocol == "tournament" or self.protocol.kind == "listwise"

    def provenance(self) -> dict[str, Any]:
        return {"family": "judge", "protocol": self.protocol.name, "judge": self.config.describe(),
                "prompt_sha256": self.protocol.prompt_sha256(), "backend": self.generator.provenance(),
                "generation": self.generator.stats.to_dict()}

    # -- pointwise ---------------------------------------------------------------------------------------
    def score(self, samples: Sequence[Sample]) -> list[Score]:
        return run_sync(self.ascore(samples))

    async def ascore(self, samples: Sequence[Sample]) -> list[Score]:
        if self.judges_groups:
            out: list[Score] = []
            for start, end in _runs(samples):
                out.extend(await self.ascore_group(samples[start:end]))
            return out
        if self.judges_pairs:
            return await self._score_against_baseline(samples)
        return await self._score_pointwise(samples, self.protocol)

    async def _score_pointwise(self, samples: Sequence[Sample], protocol: Any) -> list[Score]:
        needs_ref = getattr(protocol, "needs_reference", False)
        todo = [i for i, s in enumerate(samples) if s.reference is not None or not needs_ref]
        items = [Item(protocol.render(question_text(samples[i].prompt), [samples[i].response],
                                      samples[i].reference), 1) for i in todo]
        judged = await judge_items(self.generator, protocol, self.config, items)
        out = [Score.failure(f"{protocol.name} judge needs a reference answer (Sample.reference)")
               for _ in samples]
        for i, j in zip(todo, judged):
            out[i] = _score(j, 0)
        return out

    async def _score_against_baseline(self, samples: Sequence[Sample]) -> list[Score]:
        pairs, where = [], []
        out = [Score.failure("a pairwise judge scores one sample against metadata['baseline'] (or "
                             "'reference_response'); none given: use compare() or score groups") for _ in samples]
        for i, s in enumerate(samples):
            baseline = next((s.metadata[k] for k in BASELINE_KEYS if isinstance(s.metadata.get(k), str)), None)
            if baseline is not None:
                pairs.append((s, Sample(s.prompt, baseline, reference=s.reference)))
                where.append(i)
        for i, pj in zip(where, await self.acompare_pairs(pairs)):
            out[i] = (Score.failure(pj.error or "judge failed") if math.isnan(pj.p) else
                      Score(2.0 * pj.p - 1.0, components={"p_better": pj.p}, rationale=pj.rationale))
        return out

    # -- pairwise ----------------------------------------------------------------------------------------
    def compare(self, a: Sample, b: Sample) -> float:
        return self.compare_pairs([(a, b)])[0].p

    def compare_pairs(self, pairs: Sequence[tuple[Sample, Sample]], rule: str | None = None) -> list[PairJudgement]:
        return run_sync(self.acompare_pairs(pairs, rule))

    async def acompare_pairs(self, pairs: Sequence[tuple[Sample, Sample]],
                             rule: str | None = None) -> list[PairJudgement]:
        rule = rule or self.config.position_rule
        if rule == "single":
            swaps = [rules.single_order_swaps(self.config.seed, question_text(a.prompt), a.response, b.response)
                     for a, b in pairs]
            shown = [(b, a) if swap else (a, b) for (a, b), swap in zip(pairs, swaps)]
            judged = await self._pairs(shown)
            out = []
            for swap, j in zip(swaps, judged):
                p_first = j.values[0] if j.values is not None else math.nan
                p = 1.0 - p_first if swap else p_first
                out.append(PairJudgement(p, rule, p_ba=p_first if swap else math.nan,
                                         p_ab=math.nan if swap else p_first, rationale=j.rationale, error=j.error))
            return out
        orders = await self.aboth_orders(pairs)
        out = []
        for first, second in orders:
            p_ab, p_ba = _first_slot(first), _first_slot(second)
            c = rules.combine_orders(rule, p_ab, p_ba)
            error = None if not math.isnan(c.p) else (first.error or second.error or "judge failed")
            out.append(PairJudgement(c.p, rule, p_ab, p_ba, c.agree, c.skipped,
                                     f"[a first] {first.rationale}\n\n[b first] {second.rationale}", error))
        return out

    def both_orders(self, pairs: Sequence[tuple[Sample, Sample]]) -> list[tuple[Judged, Judged]]:
        return run_sync(self.aboth_orders(pairs))

    async def aboth_orders(self, pairs: Sequence[tuple[Sample, Sample]]) -> list[tuple[Judged, Judged]]:
        """Each pair judged with a first and with b first, in one backend call."""
        judged = await self._pairs([p for a, b in pairs for p in ((a, b), (b, a))])
        return list(zip(judged[0::2], judged[1::2]))

    async def _pairs(self, shown: Sequence[tuple[Sample, Sample]]) -> list[Judged]:
        items = [Item(self.protocol.render(question_text(a.prompt), [a.response, b.response], a.reference), 2)
                 for a, b in shown]
        return await judge_items(self.generator, self.protocol, self.config, items)

    # -- groups ------------------------------------------------------------------------------------------
    def score_group(self, samples: Sequence[Sample]) -> list[Score]:
        return run_sync(self.ascore_group(samples))

    async def ascore_group(self, samples: Sequence[Sample]) -> list[Score]:
        """Scores for the responses of one prompt (RewardBench 2's Ties rows take 1-10 ratings instead)."""
        from rewardlab.rewards.judge.group import score_four_way, score_listwise, score_tournament

        if not samples:
            return []
        if self.config.protocol == "tournament":
            return await score_tournament(self, samples)
        if self.protocol.slots == 4:
            if str(samples[0].metadata.get("subset", "")).lower() == "ties":
                return await self._score_pointwise(samples, Rating(variant="ties"))
            return await score_four_way(self, samples)
        if self.protocol.kind == "listwise":
            return await score_listwise(self, samples)
        return await self.ascore(samples)


def _first_slot(j: Judged) -> float:
    return j.values[0] if j.values is not None else math.nan


def _score(j: Judged, slot: int) -> Score:
    if j.values is None:
        return Score(math.nan, rationale=j.rationale or None, error=j.error or "judge failed")
    return Score(float(j.values[slot]), components=dict(j.components), rationale=j.rationale or None)


def _runs(samples: Sequence[Sample]) -> list[tuple[int, int]]:
    """[start, end) of each run of consecutive samples with the same prompt."""
    runs, start = [], 0
    for i in range(1, len(samples) + 1):
        if i == len(samples) or samples[i].prompt != samples[start].prompt:
            runs.append((start, i))
            start = i
    return runs


def from_spec(argument: str, **overrides: Any) -> JudgeReward:
    """``judge:BACKEND:TARGET,...`` (see `rewardlab.rewards.judge.config`)."""
    from rewardlab.generation import load_generator
    from rewardlab.rewards.judge.config import split_spec

    backend, config = split_spec(argument)
    return JudgeReward(load_generator(backend, **overrides), config, spec=argument)

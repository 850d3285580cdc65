"""One judging round for many items at once: render -> one backend call -> parse -> rules.

Every item's prompt goes into a single `Generator` call, so the hf backend batches them and the openai
backend sends them concurrently (and serves repeats from its cache). Generate mode samples ``samples``
outputs per item and parses each; failed outputs are resampled under ``resample:K``; the k parsed
outputs are aggregated (`rules.aggregate`), all k kept in the rationale. Logprob mode reads the verdict
distribution at the answer position in one forward. The failure policy turns what is left unparsed into
a counted failure, a tie, or an exception.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rewardlab.generation import Completion, Generator, SamplingParams
from rewardlab.rewards.judge.config import JudgeConfig
from rewardlab.rewards.judge.parsers import Parsed
from rewardlab.rewards.judge.protocols import Protocol
from rewardlab.rewards.judge.rules import aggregate
from rewardlab.types import Message

RATIONALE_CHARS = 4000


class JudgeError(RuntimeError):
    """A judge output could not be used and the failure policy is ``raise``."""


@dataclass
class Judged:
    """The verdict on one item: per-slot ``values`` (None when it failed), with everything behind it."""

    values: list[float] | None
    label: str | None = None
    components: dict[str, float] = field(default_factory=dict)
    rationale: str = ""
    error: str | None = None
    outputs: list[str] = field(default_factory=list)
    tied_by_policy: bool = False

    @property
    def ok(self) -> bool:
        return self.values is not None and all(not math.isnan(v) for v in self.values)


@dataclass(frozen=True)
class Item:
    """One judging question: the messages to send and the number of answers shown."""

    messages: list[Message]
    slots: int


async def judge_items(generator: Generator, protocol: Protocol, config: JudgeConfig,
                      items: Sequence[Item]) -> list[Judged]:
    if not items:
        return []
    if config.mode == "logprob":
        results = await _logprob(generator, protocol, items)
    else:
        results = await _generate(generator, protocol, config, items)
    return [_apply_policy(protocol, config, item, judged) for item, judged in zip(items, results)]


async def _logprob(generator: Generator, protocol: Protocol, items: Sequence[Item]) -> list[Judged]:
    if not protocol.labels:
        raise ValueError(f"protocol {protocol.name!r} has no logprob mode; use mode=generate")
    dists = await generator.averdict_probs([i.messages for i in items], protocol.labels, protocol.answer_prefix())
    out = []
    for dist in dists:
        shown = " ".join(f"P({k})={v:.4f}" for k, v in dist.probs.items()) + f" (mass {dist.mass:.4f})"
        if not dist.ok:
            out.append(Judged(None, rationale=shown, error=dist.error or "no probability on any verdict"))
            continue
        parsed = protocol.from_probs(dist.normalized())
        out.append(Judged(parsed.values, rationale=shown, components={"verdict_mass": dist.mass}))
    return out


def _params(config: JudgeConfig, attempt: int) -> SamplingParams:
    temperature = config.temperature if attempt == 0 else max(config.temperature, 1.0)
    return SamplingParams(n=config.samples, temperature=temperature, top_p=config.top_p,
                          max_new_tokens=config.max_tokens, seed=config.seed + attempt)


async def _generate(generator: Generator, protocol: Protocol, config: JudgeConfig,
                    items: Sequence[Item]) -> list[Judged]:
    outputs: list[list[tuple[str, Parsed]]] = [[] for _ in items]
    completions = await generator.agenerate([i.messages for i in items], _params(config, 0))
    for k, row in enumerate(completions):
        outputs[k] = [(c.text, _parse(protocol, c, items[k].slots)) for c in row]
    for attempt in range(1, config.failure.resample + 1):
        pending = [k for k, row in enumerate(outputs) if any(not p.ok for _, p in row)]
        if not pending:
            break
        again = await generator.agenerate([items[k].messages for k in pending], _params(config, attempt))
        for k, row in zip(pending, again):
            fresh = iter((c.text, _parse(protocol, c, items[k].slots)) for c in row)
            outputs[k] = [(t, p) if p.ok else next(fresh) for t, p in outputs[k]]
    return [_combine(row, config.aggregate) for row in outputs]


def _parse(protocol: Protocol, completion: Completion, slots: int) -> Parsed:
    if not completion.ok:
        return Parsed.fail(f"generation failed: {completion.error}")
    return protocol.parse(completion.text, slots)


def _combine(row: list[tuple[str, Parsed]], how: str) -> Judged:
    good = [p for _, p in row if p.ok]
    texts = [t for t, _ in row]
    if len(row) == 1:
        rationale = texts[0][:RATIONALE_CHARS]
    else:
        rationale = "\n\n".join(f"[sample {i}] {t[:RATIONALE_CHARS // len(row)]}" for i, t in enumerate(texts))
    if not good:
        reasons = sorted({p.error or "" for _, p in row})
        return Judged(None, rationale=rationale, error="; ".join(reasons)[:300], outputs=texts)
    values = aggregate([p.values for p in good], [p.label for p in good], how)
    components: dict[str, float] = {}
    for name in good[0].components:
        components[name] = sum(p.components[name] for p in good) / len(good)
    if len(row) > 1:
        components.update({f"sample_{i}": (p.values[0] if p.ok else math.nan) for i, (_, p) in enumerate(row)})
        components["samples_ok"] = float(len(good))
    label = good[0].label if len(good) == 1 else None
    return Judged(values, label=label, components=components, rationale=rationale, outputs=texts)


def _apply_policy(protocol: Protocol, config: JudgeConfig, item: Item, judged: Judged) -> Judged:
    if judged.ok:
        return judged
    reason = judged.error or "unusable judge output"
    if config.failure.kind == "raise":
        raise JudgeError(f"{protocol.name} judge: {reason}")
    if config.failure.kind == "tie":
        judged.values, judged.tied_by_policy, judged.error = protocol.tie(item.slots), True, None
        judged.components["failed_tied"] = 1.0
        judged.rationale = f"[tie by failure policy: {reason}] {judged.rationale}"
        return judged
    judged.values, judged.error = None, reason
    return judged

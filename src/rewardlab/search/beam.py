"""PRM-guided step-level beam search, with a lookahead variant.

A solution grows one step at a time. Each round, every live beam (a prefix of steps) is continued
``expansions`` times by the policy, up to the next ``delimiter`` (a stop string), and the process reward
model scores every child in one call; per prompt the ``width`` best children survive (ranked by ``rank``:
the score of the step just written, ``last``, as in Snell et al.'s beam search, or ``min`` / ``product`` /
``mean`` of all step scores). A child is finished when its new step states a final answer (the
``answer`` extractor), when the policy ends without a new step, or at ``max_steps``; finished children that
survive leave the beam, so the search ends when no beam is left. The pick is the finished solution with
the highest reward value (the PRM's own aggregation of the whole solution).

``lookahead = k`` (Snell et al.'s lookahead search) ranks a child by the PRM's score after rolling it out
k more steps greedily: a more informed ranking, paid for in generated tokens, which are counted.

Before any generation the reward is asked for the step scores of a two-step probe; a reward that gives
none (an outcome RM, a judge) is refused then, not after the policy has run. Every round's generation is
retried for failed prompts (`rewardlab.search.pools`); a prompt still failing is reported with its id and
the search goes on for the others. All compute is accounted in `Compute`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab.generation.base import Generator, SamplingParams
from rewardlab.search.answers import get_extractor
from rewardlab.search.pools import Compute, FailedPrompt, sample_pools
from rewardlab.search.prompts import PromptRow
from rewardlab.types import Sample, Score

RANKS = ("last", "min", "product", "mean")


@dataclass(frozen=True)
class BeamConfig:
    width: int = 4
    expansions: int = 4
    delimiter: str = "\n"
    max_steps: int = 8
    step_tokens: int = 48
    temperature: float = 0.8
    top_p: float = 1.0
    seed: int = 0
    lookahead: int = 0
    rank: str = "last"
    answer: str = "math"
    retries: int = 2

    def __post_init__(self) -> None:
        if self.width < 1 or self.expansions < 1 or self.max_steps < 1 or self.lookahead < 0:
            raise ValueError("beam search needs width, expansions and max_steps >= 1 and lookahead >= 0")
        if self.rank not in RANKS:
            raise ValueError(f"unknown rank {self.rank!r}; expected one of {', '.join(RANKS)}")
        if not self.delimiter:
            raise ValueError("the step delimiter must not be empty")


@dataclass
class Node:
    steps: tuple[str, ...]
    finished: str | None = None  # why: answer, end, max_steps
    rank_value: float = -math.inf
    score: Score | None = None  # the reward's score of exactly these steps (None when only a lookahead was scored)


@dataclass
class BeamResult:
    rows: list[dict[str, Any]]
    compute: Compute
    failed: list[FailedPrompt] = field(default_factory=list)


def require_step_scores(reward: Any, prompt: Any) -> None:
    """Refuse a reward that returns no per-step scores (checked on a two-step probe, before generation)."""
    probe = reward.score([Sample(prompt, "First step.\nSecond step.", steps=("First step.", "Second step."))])[0]
    if probe.steps is None or len(probe.steps) != 2:
        why = f" (the probe failed: {probe.error})" if probe.error else ""
        raise ValueError(f"reward {getattr(reward, 'name', reward)!r} gives no step scores (Score.steps){why}; "
                         "beam search needs a process reward: process:PATH, or implicit:...,steps=true")


def _rank(score: Score, how: str) -> float:
    if not score.ok or not score.steps:
        return -math.inf
    from rewardlab.rewards.process import aggregate

    return aggregate(score.steps, how)


def child_nodes(parent: Node, completions: Sequence[Any], extract: Any, max_steps: int) -> list[tuple[tuple, Node]]:
    """The children one round of sampling gives a node, keyed for de-duplication: a new step each, or, where
    the policy wrote nothing, the parent itself marked finished (``end``)."""
    out = []
    for c in completions:
        step = c.text.strip()
        if not step:
            if parent.steps:
                out.append((parent.steps + ("\x00end",), Node(parent.steps, "end", score=parent.score)))
            continue
        steps = parent.steps + (step,)
        done = "answer" if extract(step) is not None else ("max_steps" if len(steps) >= max_steps else None)
        out.append((steps, Node(steps, done)))
    return out


def beam_search(generator: Generator, reward: Any, prompts: Sequence[PromptRow], config: BeamConfig = BeamConfig(),
                compute: Compute | None = None) -> BeamResult:
    compute = compute or Compute()
    if not prompts:
        return BeamResult([], compute)
    bad = [p.id for p in prompts if not isinstance(p.prompt, str)]
    if bad:
        raise ValueError(f"beam search continues text prompts; prompt(s) {bad[:5]} are chat messages (render "
                         "them to text first)")
    require_step_scores(reward, prompts[0].prompt)
    extract = get_extractor(config.answer)
    delim = config.delimiter
    params = SamplingParams(n=config.expansions, temperature=config.temperature, top_p=config.top_p,
                            max_new_tokens=config.step_tokens, stop=(delim,), seed=config.seed)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=config.step_tokens, stop=(delim,))
    active: dict[int, list[Node]] = {i: [Node(())] for i in range(len(prompts))}
    finished: dict[int, list[Node]] = {i: [] for i in range(len(prompts))}
    tokens = [0] * len(prompts)
    rounds = [0] * len(prompts)
    failed: dict[int, FailedPrompt] = {}

    def text_of(i: int, steps: Sequence[str]) -> str:
        return str(prompts[i].prompt) + "".join(s + delim for s in steps)

    def generate(owners: list[int], texts: list[str], p: SamplingParams) -> list[list[Any]]:
        pools = sample_pools(generator, texts, [prompts[i].id for i in owners], p, compute, config.retries)
        for i, row in zip(owners, pools.completions):
            tokens[i] += sum(c.tokens or 0 for c in row)
        for f in pools.failed:
            owner = next(i for i in owners if prompts[i].id == f.id)
            failed.setdefault(owner, f)
        return pools.completions

    for depth in range(config.max_steps):
        live = [(i, node) for i, nodes in active.items() if i not in failed for node in nodes]
        if not live:
            break
        rows = generate([i for i, _ in live], [text_of(i, n.steps) for i, n in live], params)
        children: dict[int, dict[tuple[str, ...], Node]] = {}
        for (i, parent), row in zip(live, rows):
            rounds[i] = depth + 1
            for key, node in child_nodes(parent, row, extract, config.max_steps):
                children.setdefault(i, {}).setdefault(key, node)
        for i in failed:
            children.pop(i, None)
        flat = [(i, node) for i, kids in children.items() for node in kids.values()]
        # what each child is ranked by: its own steps, or its steps plus a greedy lookahead rollout
        scored_steps = {id(node): node.steps for _, node in flat}
        if config.lookahead:
            open_ = [(i, node) for i, node in flat if node.finished is None]
            extra: dict[int, list[str]] = {id(node): [] for _, node in open_}
            for _ in range(config.lookahead):
                todo = [(i, node) for i, node in open_ if i not in failed and not _ended(extra[id(node)], extract)]
                if not todo:
                    break
                outs = generate([i for i, _ in todo],
                                [text_of(i, node.steps + tuple(extra[id(node)])) for i, node in todo], greedy)
                for (_i, node), row in zip(todo, outs):
                    step = row[0].text.strip() if row else ""
                    extra[id(node)].append(step if step else "\x00")
            for _, node in open_:
                scored_steps[id(node)] = node.steps + tuple(s for s in extra[id(node)] if s != "\x00")
        need = [(i, node) for i, node in flat if not (node.finished == "end" and node.score is not None)]
        if need:
            samples = [Sample(prompts[i].prompt, delim.join(scored_steps[id(n)]), steps=scored_steps[id(n)],
                              reference=prompts[i].reference) for i, n in need]
            for (_, node), score in zip(need, reward.score(samples)):
                if scored_steps[id(node)] == node.steps:
                    node.score = score
                node.rank_value = _rank(score, config.rank)
        for _, node in flat:
            if node.finished == "end" and node.score is not None and node.rank_value == -math.inf:
                node.rank_value = _rank(node.score, config.rank)
        for i in active:
            kids = sorted((n for n in children.get(i, {}).values()), key=lambda n: -n.rank_value)[:config.width]
            finished[i].extend(n for n in kids if n.finished)
            active[i] = [n for n in kids if not n.finished]
    for i, nodes in active.items():  # only when max_steps ran out with open beams (cannot happen: see above)
        for n in nodes:
            n.finished = "max_steps"
            finished[i].append(n)
    unscored = [(i, n) for i, nodes in finished.items() for n in nodes if n.score is None]
    if unscored:
        samples = [Sample(prompts[i].prompt, delim.join(n.steps), steps=n.steps, reference=prompts[i].reference)
                   for i, n in unscored]
        for (_, node), score in zip(unscored, reward.score(samples)):
            node.score = score
    rows_out = []
    for i, p in enumerate(prompts):
        row: dict[str, Any] = {"id": p.id, "prompt": p.prompt, "strategy": "lookahead" if config.lookahead else "beam",
                               "generated_tokens": tokens[i], "rounds": rounds[i]}
        if i in failed:
            row.update(chosen=None, error=failed[i].error)
            rows_out.append(row)
            continue
        pool = [n for n in finished[i] if n.score is not None and n.score.ok]
        best = max(pool, key=lambda n: n.score.value) if pool else None
        row["finished_candidates"] = len(finished[i])
        if best is None:
            row.update(chosen=None, error="no finished solution with a valid reward score")
        else:
            row.update(chosen=delim.join(best.steps), steps=list(best.steps), value=best.score.value,
                       step_scores=best.score.steps, finish=best.finished, answer=extract(best.steps[-1]))
        rows_out.append(row)
    return BeamResult(rows_out, compute, [failed[i] for i in sorted(failed)])


def _ended(steps: list[str], extract: Any) -> bool:
    return bool(steps) and (steps[-1] == "\x00" or extract(steps[-1]) is not None)

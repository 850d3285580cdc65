"""Best-first search guided by a PRM: always expand the most promising partial solution.

Each prompt keeps a frontier of scored partial solutions. Every round, each prompt pops its best node (by
the same ``rank`` over step scores as beam search); a finished node popped from the top is the answer: no
open prefix ranks above it. Otherwise the node is expanded ``expansions`` times by the policy (one step
each, up to the delimiter), the PRM scores the children, and all of them join the frontier. A prompt stops
at its answer, an empty frontier, or after ``max_expansions`` expansions (then the best finished solution
seen, if any). Unlike beam search, compute goes where the PRM is most hopeful rather than evenly to a
fixed width, and each prompt spends only what it needs. The refusal of rewards without step scores,
retries and compute accounting are beam search's (`rewardlab.search.beam`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import Any

from rewardlab.generation.base import Generator, SamplingParams
from rewardlab.search.answers import get_extractor
from rewardlab.search.beam import BeamConfig, BeamResult, Node, _rank, child_nodes, require_step_scores
from rewardlab.search.pools import Compute, FailedPrompt, sample_pools
from rewardlab.search.prompts import PromptRow
from rewardlab.types import Sample


def best_first_search(generator: Generator, reward: Any, prompts: Sequence[PromptRow],
                      config: BeamConfig = BeamConfig(), max_expansions: int = 16,
                      compute: Compute | None = None) -> BeamResult:
    compute = compute or Compute()
    if not prompts:
        return BeamResult([], compute)
    if any(not isinstance(p.prompt, str) for p in prompts):
        raise ValueError("best-first search continues text prompts; render chat prompts to text first")
    require_step_scores(reward, prompts[0].prompt)
    extract, delim = get_extractor(config.answer), config.delimiter
    params = SamplingParams(n=config.expansions, temperature=config.temperature, top_p=config.top_p,
                            max_new_tokens=config.step_tokens, stop=(delim,), seed=config.seed)
    tie = itertools.count()
    frontier: dict[int, list[tuple[float, int, Node]]] = {i: [(float("-inf"), next(tie), Node(()))]
                                                          for i in range(len(prompts))}
    result: dict[int, Node | None] = {}
    seen_finished: dict[int, list[Node]] = {i: [] for i in range(len(prompts))}
    used, tokens = [0] * len(prompts), [0] * len(prompts)
    failed: dict[int, FailedPrompt] = {}
    while len(result) + len(failed) < len(prompts):
        todo: list[tuple[int, Node]] = []
        for i in range(len(prompts)):
            if i in result or i in failed:
                continue
            if not frontier[i]:
                result[i] = _best(seen_finished[i])
                continue
            _, _, node = heapq.heappop(frontier[i])
            if node.finished:
                result[i] = node
            elif used[i] >= max_expansions:
                result[i] = _best(seen_finished[i])
            else:
                used[i] += 1
                todo.append((i, node))
        if not todo:
            continue
        texts = [str(prompts[i].prompt) + "".join(s + delim for s in n.steps) for i, n in todo]
        pools = sample_pools(generator, texts, [prompts[i].id for i, _ in todo], params, compute, config.retries)
        for f in pools.failed:
            failed.setdefault(next(i for i, _ in todo if prompts[i].id == f.id), f)
        kids = []
        for (i, parent), row in zip(todo, pools.completions):
            tokens[i] += sum(c.tokens or 0 for c in row)
            if i not in failed:
                kids += [(i, node) for _, node in dict(child_nodes(parent, row, extract, config.max_steps)).items()]
        need = [(i, n) for i, n in kids if n.score is None]
        if need:
            samples = [Sample(prompts[i].prompt, delim.join(n.steps), steps=n.steps, reference=prompts[i].reference)
                       for i, n in need]
            for (_, node), score in zip(need, reward.score(samples)):
                node.score = score
        for i, node in kids:
            node.rank_value = _rank(node.score, config.rank) if node.score is not None else float("-inf")
            if node.finished:
                seen_finished[i].append(node)
            heapq.heappush(frontier[i], (-node.rank_value, next(tie), node))
    rows = []
    for i, p in enumerate(prompts):
        row: dict[str, Any] = {"id": p.id, "prompt": p.prompt, "strategy": "best-first", "generated_tokens": tokens[i],
                               "expansions": used[i]}
        best = result.get(i)
        if i in failed:
            row.update(chosen=None, error=failed[i].error)
        elif best is None or best.score is None or not best.score.ok:
            row.update(chosen=None, error=f"no finished solution within {max_expansions} expansions")
        else:
            row.update(chosen=delim.join(best.steps), steps=list(best.steps), value=best.score.value,
                       step_scores=best.score.steps, finish=best.finished, answer=extract(best.steps[-1]))
        rows.append(row)
    return BeamResult(rows, compute, [failed[i] for i in sorted(failed)])


def _best(nodes: list[Node]) -> Node | None:
    ok = [n for n in nodes if n.score is not None and n.score.ok]
    return max(ok, key=lambda n: n.score.value) if ok else None

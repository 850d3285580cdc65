"""The labelling algorithms bound to the embedded world: two completers and the exact verifier.

- `gold_completer`: a deterministic "perfect solver that trusts the prefix". It reads the result each
  prefix step states (its ``a op b = c``), then finishes the gold computation from those numbers. A
  prefix whose stated results are all right therefore always reaches the gold answer (q = 1), and a
  prefix with a wrong result that the gold plan uses later never does (q = 0), which makes the
  algorithms' expected output known exactly. Because it trusts the prefix, it also carries forward a
  wrong result that the written solution itself later ignores (the ``flawed`` corruption), so MC labels
  catch those; binary search cannot, since it only searches solutions whose final answer is wrong.
- `policy_completer`: a causal policy (the tiny policy of `rewardlab.synth.policy`, or any HF causal
  LM) sampling n continuations of ``prompt + prefix``; real, noisy estimates.
- `world_verifier`: the world's exact final-answer check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rewardlab.labeling.mc import Rollout, Verify
from rewardlab.synth.world import Problem, apply, is_correct, operand_value, parse_equation, render_step


def world_verifier(problem: Problem) -> Verify:
    return lambda text: is_correct(text, problem.answer)


def gold_completer(problem: Problem) -> Rollout:
    """Completions that continue the gold plan from the numbers the prefix states (see module doc).

    Each prefix step is matched to the gold step it computes by its phrase (``"Tom has: ..."``), in order,
    so a skipped step does not shift the others; its stated result replaces the gold value. The gold
    steps the prefix has not done are then computed, in order, from those values.
    """

    def rollout(prefix: Sequence[str], n: int) -> list[str]:
        values = list(problem.values())
        done = [False] * len(problem.ops)
        for step in prefix:
            phrase = step.split(":", 1)[0].strip()
            match = next((i for i, op in enumerate(problem.ops) if not done[i] and op.phrase == phrase), None)
            if match is None:
                continue  # a step of no gold quantity: the solver ignores it
            done[match] = True
            equation = parse_equation(step)
            if equation is not None:
                values[match] = equation[3]  # trust what the prefix says this step produced
        lines = []
        for i, op in enumerate(problem.ops):
            if done[i]:
                continue
            a, b = operand_value(op.left, values), operand_value(op.right, values)
            result = apply(op.sym, a, b)
            if result is None:  # the prefix's numbers make this step impossible: the solver gives up
                lines.append("I cannot finish this.")
                break
            values[i] = result
            last = i == len(problem.ops) - 1
            lines.append(render_step(op.phrase, a, op.sym, b, result, result if last else None))
        return ["\n".join(lines)] * n

    return rollout


def policy_completer(model: Any, tokenizer: Any, prompt: str, temperature: float = 1.0,
                     max_new_tokens: int = 160, seed: int = 0) -> Rollout:
    """n sampled continuations of ``prompt`` followed by the prefix, one step per line.

    Each call draws with a fresh seed (the call count is mixed into ``seed``), so two probes of the same
    prefix are independent samples while a whole run stays reproducible.
    """
    from rewardlab.synth.policy import generate

    calls = [0]

    def rollout(prefix: Sequence[str], n: int) -> list[str]:
        calls[0] += 1
        text = prompt + "".join(step + "\n" for step in prefix)
        return generate(model, tokenizer, [text], n=n, temperature=temperature, max_new_tokens=max_new_tokens,
                        seed=seed * 1_000_003 + calls[0])[0]

    return rollout

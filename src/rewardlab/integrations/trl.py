"""Any rewardlab reward as a TRL reward function: ``GRPOTrainer(reward_funcs=[reward_func("rule:math")])``.

TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)`` and expects one float per
completion, or ``None`` for "this reward does not apply" (it becomes NaN and is left out of TRL's
nan-aware sums; a completion every function returns ``None`` for is left out of TRL 1.16's group baselines
and gets advantage 0, `rewardlab.signals`' ``unscorable="exclude"`` rule). Here:
- ``prompts`` / ``completions`` may be plain strings or conversations (lists of ``{"role", "content"}``
  messages, content possibly a list of typed parts); a conversational completion's messages are joined;
- the gold answer comes from the first dataset column present among ``reference``, ``solution``,
  ``answer``, ``ground_truth`` (or the one named by ``reference_key``), and every other per-row column
  travels in ``Sample.metadata`` (``tests`` for ``rule:code``, a PAR ``reference_response`` ...);
- a failed score (NaN with an error) is returned as ``None``, and counted in the ``failures`` metric.

The callable is a class instance, not a closure, so it pickles (TRL's async rollout workers send reward
functions to other processes); the reward itself is loaded lazily in each process.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from rewardlab.types import Sample

REFERENCE_KEYS = ("reference", "solution", "answer", "ground_truth")
_TRAINER_KWARGS = {"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"}


def message_text(content: Any) -> str:
    """A message's text: plain content, or the text parts of a multimodal content list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return "" if content is None else str(content)


def _prompt(prompt: Any) -> str | list[dict[str, str]]:
    if isinstance(prompt, str):
        return prompt
    return [{"role": m.get("role", "user"), "content": message_text(m.get("content"))} for m in prompt]


def _completion(completion: Any) -> str:
    if isinstance(completion, str):
        return completion
    return "".join(message_text(m.get("content")) for m in completion)


def to_samples(prompts: Sequence[Any], completions: Sequence[Any], columns: dict[str, Any],
               reference_key: str | None = None) -> list[Sample]:
    """TRL's batch (one row per completion) as rewardlab Samples."""
    n = len(completions)
    if len(prompts) != n:
        raise ValueError(f"{len(prompts)} prompts for {n} completions")
    per_row = {k: v for k, v in columns.items()
               if k not in _TRAINER_KWARGS and isinstance(v, (list, tuple)) and len(v) == n}
    key = reference_key or next((k for k in REFERENCE_KEYS if k in per_row), None)
    if reference_key is not None and reference_key not in per_row:
        raise KeyError(f"reference column {reference_key!r} not in the batch; columns: {sorted(per_row)}")
    samples = []
    for i in range(n):
        reference = per_row[key][i] if key else None
        metadata = {k: v[i] for k, v in per_row.items() if k != key}
        samples.append(Sample(_prompt(prompts[i]), _completion(completions[i]),
                              reference=None if reference is None else str(reference), metadata=metadata))
    return samples


class RewardFunc:
    """A picklable TRL reward function wrapping one rewardlab reward spec (or an already-built reward)."""

    def __init__(self, spec: Any, reference_key: str | None = None, name: str | None = None,
                 group_size: int | None = None):
        if group_size is not None and group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.spec = spec
        self.reference_key = reference_key
        self.group_size = group_size
        self.__name__ = name or _name_of(spec)
        self._reward = None if isinstance(spec, str) else spec

    @property
    def reward(self) -> Any:
        if self._reward is None:
            from rewardlab.rewards.base import load_reward

            self._reward = load_reward(self.spec)
        return self._reward

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        samples = to_samples(prompts, completions, kwargs, self.reference_key)
        if self.group_size:
            group = getattr(self.reward, "score_group", self.reward.score)
            scores = [s for chunk in _chunks(samples, self.group_size) for s in group(chunk)]
        else:
            scores = self.reward.score(samples)
        return self._finish(scores, samples, kwargs)

    def _finish(self, scores: list[Any], samples: list[Sample], kwargs: dict[str, Any]) -> list[float | None]:
        if len(scores) != len(samples):
            raise RuntimeError(f"{self.__name__}: {len(scores)} scores for {len(samples)} completions")
        values = [float(s.value) if s.ok else None for s in scores]
        if callable(kwargs.get("log_extra")):
            kwargs["log_extra"](f"{self.__name__}_why", [s.error or s.rationale or "" for s in scores])
        if callable(kwargs.get("log_metric")):
            kwargs["log_metric"](f"{self.__name__}/failures", float(sum(v is None for v in values)))
        return values

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if isinstance(self.spec, str):
            state["_reward"] = None  # rebuilt from the spec in the receiving process
        return state


class AsyncRewardFunc(RewardFunc):
    """The same reward as a coroutine: TRL runs async reward functions concurrently on its event loop.

    Scoring runs in a worker thread (``asyncio.to_thread``), so a slow reward (a remote server, a code
    sandbox) overlaps with other reward functions instead of blocking them.
    """

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                       **kwargs: Any) -> list[float | None]:
        reward = self.reward
        if not hasattr(reward, "ascore"):
            call = super().__call__
            return await asyncio.to_thread(call, prompts, completions, **kwargs)
        # Judges are natively async: their requests run concurrently on TRL's own loop, a group per chunk.
        samples = to_samples(prompts, completions, kwargs, self.reference_key)
        if self.group_size:
            group = getattr(reward, "ascore_group", reward.ascore)
            groups = await asyncio.gather(*(group(c) for c in _chunks(samples, self.group_size)))
            scores = [s for group in groups for s in group]
        else:
            scores = await reward.ascore(samples)
        return self._finish(scores, samples, kwargs)


def reward_func(spec: Any, *, asynchronous: bool = False, reference_key: str | None = None,
                name: str | None = None, group_size: int | None = None) -> RewardFunc:
    """A TRL ``reward_funcs`` entry for ``spec`` (``"rule:math"``, ``"classifier:PATH"``, a YAML path...).

    ``group_size`` (GRPO's ``num_generations``) scores each chunk of that many consecutive completions as one
    group with the reward's ``score_group`` (group judges: ``judge:...,protocol=group|tournament``); TRL
    puts the completions of one prompt next to each other, so a chunk is one prompt's group.

    >>> f = reward_func("rule:math")
    >>> f(prompts=["2+2?"], completions=["The answer is 4"], answer=["4"])
    [1.0]
    """
    cls = AsyncRewardFunc if asynchronous else RewardFunc
    return cls(spec, reference_key=reference_key, name=name, group_size=group_size)


def _chunks(samples: list[Sample], size: int) -> list[list[Sample]]:
    if len(samples) % size:
        raise ValueError(f"{len(samples)} completions do not split into groups of {size} (num_generations)")
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def _name_of(spec: Any) -> str:
    """TRL logs ``rewards/<name>/mean``: a short identifier from the spec."""
    text = spec if isinstance(spec, str) else getattr(spec, "name", type(spec).__name__)
    text = text.rsplit("/", 1)[-1].split(",", 1)[0]
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "reward"

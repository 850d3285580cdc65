"""A verl ``custom_reward_function``: point verl's config at this file and ``compute_score``.

```yaml
custom_reward_function:
  path: <site-packages>/rewardlab/integrations/verl.py   # or a file of your own calling make_compute_score
  name: compute_score
```

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per response and
takes a float (or a dict with ``score``). Which reward scores a row, first found wins:
``extra_info["reward_spec"]``, the ``REWARDLAB_REWARD`` environment variable, then the math datasets verl
ships preprocessing for (GSM8K, MATH) -> ``rule:math``. Anything else is an error naming the data
source, as verl's own default does.

verl has no "not applicable" value, so a sample the reward cannot score at all (no reference, no tests)
raises by default, since it is a data bug; ``make_compute_score(spec, on_error="zero")`` scores it 0.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from rewardlab.types import Sample

MATH_SOURCES = {"openai/gsm8k", "gsm8k", "lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval",
                "HuggingFaceH4/MATH-500", "math", "math_dapo", "numina_aops_forum", "numina_synthetic_math",
                "numina_amc_aime", "numina_synthetic_amc", "numina_cn_k12", "numina_olympiads"}


@functools.lru_cache(maxsize=16)
def _reward(spec: str) -> Any:
    from rewardlab.rewards.base import load_reward

    return load_reward(spec)


def spec_for(data_source: str, extra_info: dict | None) -> str:
    """The reward spec for one row (see the module docstring for the order)."""
    if extra_info and extra_info.get("reward_spec"):
        return str(extra_info["reward_spec"])
    if os.environ.get("REWARDLAB_REWARD"):
        return os.environ["REWARDLAB_REWARD"]
    if data_source in MATH_SOURCES:
        return "rule:math"
    raise ValueError(f"no rewardlab reward for data_source {data_source!r}: set extra_info['reward_spec'] "
                     "or REWARDLAB_REWARD (e.g. rule:math, classifier:PATH, composite.yaml)")


def score_one(spec: str, solution_str: str, ground_truth: Any, extra_info: dict | None,
              on_error: str = "raise") -> dict[str, float]:
    """Score one verl row; returns ``{"score": value}`` plus the reward's components."""
    info = dict(extra_info or {})
    prompt = info.pop("question", None) or info.pop("prompt", None) or ""
    reference = None if ground_truth is None else str(ground_truth)
    sample = Sample(prompt if isinstance(prompt, (str, list)) else str(prompt), solution_str,
                    reference=reference, metadata=info)
    score = _reward(spec).score([sample])[0]
    if not score.ok:
        if on_error != "zero":
            raise ValueError(f"{spec} could not score this sample: {score.error}")
        return {"score": 0.0}
    return {"score": float(score.value), **{k: float(v) for k, v in score.components.items()}}


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> float:
    """verl's custom reward function signature; extra keyword arguments verl may pass are ignored."""
    return score_one(spec_for(data_source, extra_info), solution_str, ground_truth, extra_info)["score"]


def make_compute_score(spec: str, on_error: str = "raise", with_components: bool = False) -> Callable[..., Any]:
    """A ``compute_score`` bound to one spec. ``with_components`` returns verl's dict form
    (``{"score": ..., component: ...}``), which verl logs as reward extra info; only use it with rewards
    whose components are the same for every sample (a gated part appears only where its gate passed)."""
    if on_error not in {"raise", "zero"}:
        raise ValueError(f"on_error must be raise or zero, got {on_error!r}")

    def bound(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
              **kwargs: Any) -> Any:
        result = score_one(spec, solution_str, ground_truth, extra_info, on_error)
        return result if with_components else result["score"]

    bound.__name__ = "compute_score"
    return bound


# -- async compute_score (judges) ---------------------------------------------------------------------------
def make_async_compute_score(spec: str, on_error: str = "raise", with_components: bool = False) -> Callable[..., Any]:
    """verl's async ``compute_score`` bound to one spec: verl awaits a coroutine compute_score, so a judge's
    requests (``judge:openai:...``) run concurrently on verl's event loop instead of one blocking call per
    response. Rewards without an async path are scored in a worker thread. Same rules as
    `make_compute_score` (the operator's spec; ``on_error`` raise or zero)."""
    if on_error not in {"raise", "zero"}:
        raise ValueError(f"on_error must be raise or zero, got {on_error!r}")

    async def bound(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                    **kwargs: Any) -> Any:
        import asyncio

        reward = _reward(spec)
        if not hasattr(reward, "ascore"):
            result = await asyncio.to_thread(score_one, spec, solution_str, ground_truth, extra_info, on_error)
            return result if with_components else result["score"]
        info = dict(extra_info or {})
        prompt = info.pop("question", None) or info.pop("prompt", None) or ""
        sample = Sample(prompt if isinstance(prompt, (str, list)) else str(prompt), solution_str,
                        reference=None if ground_truth is None else str(ground_truth), metadata=info)
        (score,) = await reward.ascore([sample])
        if not score.ok:
            if on_error != "zero":
                raise ValueError(f"{spec} could not score this sample: {score.error}")
            return {"score": 0.0} if with_components else 0.0
        result = {"score": float(score.value), **{k: float(v) for k, v in score.components.items()}}
        return result if with_components else result["score"]

    bound.__name__ = "compute_score"
    return bound

"""A verl ``custom_reward_function``: point verl's config at this file and ``compute_score``.

```yaml
custom_reward_function:
  path: <site-packages>/rewardlab/integrations/verl.py   # or a file of your own calling make_compute_score
  name: compute_score
```

verl calls ``compute_score(data_source, solution_str, ground_truth, extra_info)`` once per response and
takes a float (or a dict with ``score``). The operator decides which reward scores a row, never the data:
a row is data, and a spec picks code to run and servers to call (``remote:URL,api_key_env=...``).
1. Rows choose only where the operator opted in by naming the rewards they may choose from:
   ``make_compute_score(row_rewards={"math": "rule:math", "mcq": "rule:choice"})``, or for the module's
   own ``compute_score`` the environment variable ``REWARDLAB_ROW_REWARDS="math=rule:math;mcq=rule:choice"``.
   A row then names one (``extra_info["reward"]``, or ``extra_info["reward_spec"]`` as older data does);
   a name not listed is an error. A row's text is only ever looked up, never loaded as a spec.
2. Otherwise the operator's reward: ``make_compute_score(spec)`` or ``REWARDLAB_REWARD``. A row that
   asks for something else is scored with it anyway (warned once per distinct request).
3. Otherwise the math datasets verl ships preprocessing for (GSM8K, MATH) -> ``rule:math``. Anything else
   is an error naming the data source, as verl's own default does.

verl has no "not applicable" value, so a sample the reward cannot score at all (no reference, no tests)
raises by default, since it is a data bug; ``make_compute_score(spec, on_error="zero")`` scores it 0.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from rewardlab.types import Sample

log = logging.getLogger("rewardlab.verl")
ROW_REWARDS_ENV = "REWARDLAB_ROW_REWARDS"
ROW_KEYS = ("reward", "reward_spec")
MATH_SOURCES = {"openai/gsm8k", "gsm8k", "lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval",
                "HuggingFaceH4/MATH-500", "math", "math_dapo", "numina_aops_forum", "numina_synthetic_math",
                "numina_amc_aime", "numina_synthetic_amc", "numina_cn_k12", "numina_olympiads"}


@functools.lru_cache(maxsize=16)
def _reward(spec: str) -> Any:
    from rewardlab.rewards.base import load_reward

    return load_reward(spec)


@functools.lru_cache(maxsize=8)
def parse_row_rewards(text: str) -> dict[str, str]:
    """``"math=rule:math;mcq=rule:choice,choices=ABCD"`` -> ``{"math": "rule:math", "mcq": ...}``
    (entries split on ``;``, each at its first ``=``, since specs hold commas and ``=``)."""
    table: dict[str, str] = {}
    for entry in (e.strip() for e in text.split(";")):
        if not entry:
            continue
        name, eq, spec = (part.strip() for part in entry.partition("="))
        if not eq or not name or not spec:
            raise ValueError(f"${ROW_REWARDS_ENV}: entry {entry!r} is not NAME=SPEC (entries are separated by ;)")
        table[name] = spec
    return table


@functools.lru_cache(maxsize=64)
def _warn_ignored(asked: str, used: str) -> None:
    log.warning("a row asks for reward %r; the operator's reward %r scores it (rows may choose only among "
                "names listed in $%s or make_compute_score(row_rewards=...))", asked, used, ROW_REWARDS_ENV)


def spec_for(data_source: str, extra_info: dict | None, spec: str | None = None,
             row_rewards: Mapping[str, str] | None = None) -> str:
    """The reward spec for one row (see the module docstring for the order). ``spec`` and
    ``row_rewards`` are the operator's; when None they come from the environment."""
    if spec is None:
        spec = os.environ.get("REWARDLAB_REWARD") or None
    if row_rewards is None:
        row_rewards = parse_row_rewards(os.environ.get(ROW_REWARDS_ENV, ""))
    asked = next((str(extra_info[k]) for k in ROW_KEYS if extra_info and extra_info.get(k)), None)
    if asked is not None and row_rewards:
        if asked not in row_rewards:
            raise ValueError(f"row asks for reward {asked!r}, which the operator did not list; rows may choose "
                             f"among {sorted(row_rewards)}")
        return row_rewards[asked]
    chosen = spec or ("rule:math" if data_source in MATH_SOURCES else None)
    if chosen is None:
        refused = f" (the row's {asked!r} is not used: rows may not choose the reward)" if asked else ""
        raise ValueError(f"no rewardlab reward for data_source {data_source!r}{refused}: set REWARDLAB_REWARD "
                         f"(e.g. rule:math, classifier:PATH, composite.yaml), or list the rewards rows may name "
                         f"in ${ROW_REWARDS_ENV}")
    if asked is not None and asked != chosen:
        _warn_ignored(asked, chosen)
    return chosen


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


def make_compute_score(spec: str | None = None, on_error: str = "raise", with_components: bool = False,
                       row_rewards: Mapping[str, str] | None = None) -> Callable[..., Any]:
    """A ``compute_score`` bound to the operator's ``spec`` (and, if given, the named ``row_rewards``
    rows may choose from; the environment is not read). ``with_components`` returns verl's dict form
    (``{"score": ..., component: ...}``), which verl logs as reward extra info; only use it with rewards
    whose components are the same for every sample (a gated part appears only where its gate passed)."""
    if on_error not in {"raise", "zero"}:
        raise ValueError(f"on_error must be raise or zero, got {on_error!r}")
    if spec is None and not row_rewards:
        raise ValueError("make_compute_score needs the operator's spec, or row_rewards for rows to choose from")
    table = dict(row_rewards or {})

    def bound(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
              **kwargs: Any) -> Any:
        chosen = spec_for(data_source, extra_info, spec=spec or "", row_rewards=table)
        result = score_one(chosen, solution_str, ground_truth, extra_info, on_error)
        return result if with_components else result["score"]

    bound.__name__ = "compute_score"
    return bound

"""How a trained model's logits become a reward: scalar, attribute heads, ensemble heads, ordinal ratings.

Training writes the head kind into the saved model's ``config.json`` under ``rewardlab_head`` (plain JSON,
so plain ``AutoModelForSequenceClassification`` users can read it too), and this pure-numpy function turns
a row of logits into ``(value, components)``. Scoring code calls `readout` so a model scores the same way
it was trained; a config without the key is read as before (one label = the reward, several = their mean).

Kinds (``{"kind": ..., ...}``):
- ``scalar``: one logit is the reward.
- ``attributes``: one head per rated attribute (regression); value = mean, each attribute a component.
- ``ensemble``: K Bradley-Terry heads; value = ``aggregate`` of them (mean, min, mean - k*std;
  *Helping or Herding?*); components are the members plus ``mean`` and ``std``.
- ``ordinal``: K logits of a rating distribution (OPRM); value = sum_k k p(k) over ratings 1..K;
  components are ``uncertainty`` (the variance of the rating) and ``p_1`` .. ``p_K``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

HEAD_KEY = "rewardlab_head"
AGGREGATES = ("mean", "min", "mean_minus_std")


def aggregate(values: np.ndarray, how: str = "mean", k: float = 1.0) -> np.ndarray:
    """Combine ensemble members: (n, K) -> (n,). ``mean_minus_std`` uses the population std (ddof=0)."""
    values = np.asarray(values, dtype=np.float64)
    if how == "mean":
        return values.mean(axis=-1)
    if how == "min":
        return values.min(axis=-1)
    if how == "mean_minus_std":
        return values.mean(axis=-1) - k * values.std(axis=-1)
    raise ValueError(f"unknown ensemble aggregate {how!r}; use one of {', '.join(AGGREGATES)}")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def readout(logits: np.ndarray, spec: dict[str, Any] | None, labels: Sequence[str]) -> tuple[
        np.ndarray, list[dict[str, float]]]:
    """(n, num_labels) logits -> values (n,) and one components dict per row (empty for scalar models)."""
    logits = np.asarray(logits, dtype=np.float64)
    kind = (spec or {}).get("kind") or ("scalar" if logits.shape[-1] == 1 else "attributes")
    if kind == "scalar":
        return logits[:, 0], [{} for _ in range(len(logits))]
    if kind == "attributes":
        return logits.mean(axis=-1), [dict(zip(labels, map(float, row))) for row in logits]
    if kind == "ensemble":
        values = aggregate(logits, spec.get("aggregate", "mean"), float(spec.get("k", 1.0)))
        comps = [{**dict(zip(labels, map(float, row))), "mean": float(row.mean()), "std": float(row.std())}
                 for row in logits]
        return values, comps
    if kind == "ordinal":
        probs = softmax(logits)
        ratings = np.arange(1, logits.shape[-1] + 1, dtype=np.float64)
        values = probs @ ratings
        var = probs @ ratings**2 - values**2
        comps = [{"uncertainty": float(v), **{f"p_{i + 1}": float(p) for i, p in enumerate(row)}}
                 for v, row in zip(var, probs)]
        return values, comps
    raise ValueError(f"unknown {HEAD_KEY} kind {kind!r}; expected scalar, attributes, ensemble or ordinal")


def head_spec(config: Any) -> dict[str, Any] | None:
    """The ``rewardlab_head`` entry of a transformers config (None when training did not write one)."""
    spec = getattr(config, HEAD_KEY, None)
    return dict(spec) if isinstance(spec, dict) else None

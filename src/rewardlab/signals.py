"""RL signals from rewards: GRPO and RLOO advantages, and sum-form versus min-form step credit.

Pure numpy functions (RESEARCH.md section 2). The GRPO and RLOO functions follow TRL 1.16's conventions
exactly (tests/test_signals_trl.py runs TRL's own GRPOTrainer and RLOOTrainer code on the same rewards),
so a reward scored here and a reward scored inside TRL give the same advantages:
- a batch is ``(num_prompts * G,)`` with each prompt's G completions consecutive;
- statistics ignore NaN (a completion a reward function could not score), the std is the unbiased
  (Bessel-corrected) one, and the denominator is ``std + 1e-4``.

A completion that *no* reward function could score follows the ``unscorable`` rule, by name:
- ``exclude`` (default; TRL 1.16, huggingface/trl#5902): it is left out of the group mean, std and
  leave-one-out baselines, and gets advantage 0. On ``[1, NaN, 0]``: ``[0.707, 0, -0.707]``.
- ``zero`` (TRL before #5902, and trainers that ``nansum`` across reward functions): the all-NaN row sums
  to 0, that 0 enters the mean and std, and the completion gets an advantage like any other. On
  ``[1, NaN, 0]``: ``[1.155, -0.577, -0.577]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

EPS = 1e-4  # TRL's constant in (r - mean) / (std + eps)
UNSCORABLE_RULES = ("exclude", "zero")


def _unscorable(rule: str, rewards: np.ndarray, unscorable: np.ndarray) -> np.ndarray:
    """Rewards with the unscorable entries NaN (``exclude``) or 0 (``zero``), per the module docstring."""
    if rule not in UNSCORABLE_RULES:
        raise ValueError(f"unscorable must be one of {', '.join(UNSCORABLE_RULES)}, got {rule!r}")
    out = rewards.copy()
    out[unscorable] = np.nan if rule == "exclude" else 0.0
    return out


def _groups(rewards: Sequence[float] | np.ndarray, group_size: int) -> np.ndarray:
    r = np.asarray(rewards, dtype=np.float64)
    if group_size < 1 or r.ndim != 1 or r.size % group_size:
        raise ValueError(f"{r.size} rewards do not split into groups of {group_size}")
    return r.reshape(-1, group_size)


def nanstd(x: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """Unbiased std ignoring NaN; NaN where fewer than two values exist (TRL's ``nanstd``)."""
    x = np.asarray(x, dtype=np.float64)
    count = np.sum(~np.isnan(x), axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(x, axis=axis, keepdims=True)
        var = np.nanmean((x - mean) ** 2, axis=axis, keepdims=True) * count / np.where(count > 1, count - 1, np.nan)
    std = np.sqrt(var)
    if keepdims:
        return std
    return np.squeeze(std, axis=axis) if axis is not None else std.reshape(())


def _nanmean(x: np.ndarray, axis: int | None = None, keepdims: bool = False) -> np.ndarray:
    """``np.nanmean`` without the all-NaN warning (an all-NaN group is expected: it gets advantage 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis, keepdims=keepdims)


def grpo_advantages(rewards: Sequence[float] | np.ndarray, group_size: int, scale: str = "group",
                    eps: float = EPS, unscorable: str = "exclude") -> np.ndarray:
    """GRPO group-normalised advantages: A_i = (r_i - mean_G r) / (std r + eps).

    ``scale``: ``group`` (std within the prompt's group), ``batch`` (std over the whole batch, mean still
    per group; *Understanding R1-Zero-Like Training* argues the group std biases towards easy prompts),
    or ``none`` (no division: Dr. GRPO). A group of equal rewards gets zero advantage. A NaN reward is an
    unscorable completion, handled by the ``unscorable`` rule (module docstring). ``(B,) -> (B,)``.
    """
    grouped = _groups(rewards, group_size)
    grouped = _unscorable(unscorable, grouped, np.isnan(grouped))
    mean = _nanmean(grouped, axis=1, keepdims=True)
    if scale == "group":
        std = nanstd(grouped, axis=1, keepdims=True) if group_size > 1 else np.zeros_like(mean)
    elif scale == "batch":
        std = nanstd(grouped) if grouped.size > 1 else np.zeros(())
    elif scale == "none":
        std = None
    else:
        raise ValueError(f"scale must be group, batch or none, got {scale!r}")
    adv = grouped - mean
    if std is not None:
        adv = adv / (std + eps)
    return np.nan_to_num(adv.reshape(-1), nan=0.0)


def combine_rewards(rewards_per_func: np.ndarray, weights: Sequence[float] | None = None,
                    group_size: int | None = None, aggregation: str = "sum_then_normalize",
                    scale: str = "group", eps: float = EPS, unscorable: str = "exclude") -> np.ndarray:
    """Several reward functions' outputs ``(B, K)`` to advantages ``(B,)``, as TRL's GRPOTrainer does.

    ``sum_then_normalize``: weighted nansum per row, then `grpo_advantages`. ``normalize_then_sum``:
    each function z-scored within its group, weighted nansum, then the sum z-scored over the batch
    (TRL's ``multi_objective_aggregation``). Rows where every function is NaN follow ``unscorable``:
    ``exclude`` leaves them out and gives them advantage 0, ``zero`` keeps their nansum of 0.
    """
    r = np.asarray(rewards_per_func, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"rewards_per_func must be (B, K), got shape {r.shape}")
    w = np.ones(r.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (r.shape[1],):
        raise ValueError(f"{w.size} weights for {r.shape[1]} reward functions")
    g = group_size or r.shape[0]
    none_scored = np.isnan(r).all(axis=1)
    if aggregation == "sum_then_normalize":
        total = _unscorable(unscorable, np.nansum(r * w, axis=1), none_scored)
        return grpo_advantages(total, g, scale, eps)
    if aggregation != "normalize_then_sum":
        raise ValueError(f"aggregation must be sum_then_normalize or normalize_then_sum, got {aggregation!r}")
    grouped = r.reshape(-1, g, r.shape[1])
    std_k = nanstd(grouped, axis=1, keepdims=True) if g > 1 else np.zeros((grouped.shape[0], 1, r.shape[1]))
    z = ((grouped - _nanmean(grouped, axis=1, keepdims=True)) / (std_k + eps)).reshape(r.shape)
    total = _unscorable(unscorable, np.nansum(z * w, axis=1), none_scored)
    std = nanstd(total) if total.size > 1 else np.zeros(())
    return np.nan_to_num((total - _nanmean(total)) / (std + eps), nan=0.0)


def rloo_advantages(rewards: Sequence[float] | np.ndarray, group_size: int, normalize: bool = False,
                    eps: float = EPS, unscorable: str = "exclude") -> np.ndarray:
    """RLOO: A_i = r_i - (1 / (G' - 1)) * sum_{j != i} r_j over the G' scorable completions of the group.

    (*Back to Basics: Revisiting REINFORCE Style Optimization*; TRL's RLOOTrainer.) With ``normalize``
    the advantages are then z-scored over the batch. A group with one scorable completion gives 0. With
    ``unscorable="zero"`` a NaN reward counts as 0 and every completion is scorable (G' = G).
    """
    grouped = _groups(rewards, group_size)
    grouped = _unscorable(unscorable, grouped, np.isnan(grouped))
    scorable = np.sum(~np.isnan(grouped), axis=1, keepdims=True)
    total = np.nansum(grouped, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = (total - grouped) / np.where(scorable > 1, scorable - 1, np.nan)
    adv = (grouped - baseline).reshape(-1)
    if normalize:
        std = nanstd(adv) if adv.size > 1 else np.zeros(())
        adv = (adv - _nanmean(adv)) / (std + eps)
    return np.nan_to_num(adv, nan=0.0)


def sum_form_returns(step_rewards: Sequence[float] | np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Sum-form credit: V(s_t) = sum_{k >= t} gamma^(k - t) * r_k. ``(T,) -> (T,)``."""
    r = np.asarray(step_rewards, dtype=np.float64)
    out = np.zeros_like(r)
    running = 0.0
    for t in range(r.size - 1, -1, -1):
        running = r[t] + gamma * running
        out[t] = running
    return out


def min_form_returns(step_rewards: Sequence[float] | np.ndarray) -> np.ndarray:
    """Min-form credit: V(s_t) = min_{k >= t} r_k (PURE, *Stop Summation: Min-Form Credit Assignment Is All
    Process Reward Model Needs for Reasoning*): a trajectory is worth its worst remaining step, so padding
    with easy, high-reward steps earns nothing. ``(T,) -> (T,)``."""
    r = np.asarray(step_rewards, dtype=np.float64)
    return np.minimum.accumulate(r[::-1])[::-1] if r.size else r


def softmin_rewards(step_rewards: Sequence[float] | np.ndarray, temperature: float = 0.1) -> np.ndarray:
    """Per-step rewards reweighted so their sum is a smooth minimum: r_k * softmax(-r / T)_k.

    PURE's practical form: feeding these to an ordinary sum-form return gives V(s_1) ~ min_k r_k as
    T -> 0 (and the mean as T -> infinity). ``(T,) -> (T,)``.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    r = np.asarray(step_rewards, dtype=np.float64)
    if r.size == 0:
        return r
    logits = -r / temperature
    w = np.exp(logits - logits.max())
    return r * (w / w.sum())


def gated_return(long_term: float, immediate: Sequence[float] | np.ndarray, threshold: float) -> float:
    """R = R_long + 1[R_long >= tau] * sum_t r_t (*Stabilizing Long-term Multi-turn RL with Gated Rewards*)."""
    return float(long_term + (np.sum(immediate) if long_term >= threshold else 0.0))


def dense_token_rewards(step_end_tokens: Sequence[int], step_rewards: Sequence[float], num_tokens: int,
                        outcome: float | None = None) -> np.ndarray:
    """Place r_t on the last token of step t, and an outcome reward (if any) on the final token. ``(L,)``."""
    if len(step_end_tokens) != len(step_rewards):
        raise ValueError(f"{len(step_end_tokens)} step ends for {len(step_rewards)} step rewards")
    out = np.zeros(num_tokens)
    for pos, r in zip(step_end_tokens, step_rewards):
        if not 0 <= pos < num_tokens:
            raise ValueError(f"step end token {pos} is outside 0..{num_tokens - 1}")
        out[pos] += r
    if outcome is not None and num_tokens:
        out[-1] += outcome
    return out

"""Reward transforms: pure numpy functions, plus two small stateful helpers (running z-stats, PPO-C).

Formulas are RESEARCH.md section 2; each function cites its source. Inputs are 1-D arrays of per-sample
rewards ``(n,)`` unless stated; NaN (a failed score) passes through as NaN and never enters a statistic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _arr(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def zscore(values: ArrayLike, mean: float, std: float, eps: float = 1e-8) -> np.ndarray:
    """r' = (r - mean) / (std + eps), with stored statistics (as OpenRLHF keeps in ``config.json``)."""
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"zscore: std must be a finite number >= 0, got {std}")
    return (_arr(values) - mean) / (std + eps)


@dataclass
class RunningStats:
    """Mean and (population) std over every finite value seen so far: Welford's update, batch-merged.

    Used for z-normalisation with running statistics: ``normalize`` first folds the batch in, then
    scales it, so the very first batch is normalised by its own statistics.
    """

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def update(self, values: ArrayLike) -> None:
        x = _arr(values)
        x = x[np.isfinite(x)]
        if x.size == 0:
            return
        n, batch_mean = x.size, float(x.mean())
        batch_m2 = float(((x - batch_mean) ** 2).sum())
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.m2 += batch_m2 + delta**2 * self.count * n / total
        self.count = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.count)) if self.count else 0.0

    def normalize(self, values: ArrayLike, update: bool = True, eps: float = 1e-8) -> np.ndarray:
        if update:
            self.update(values)
        return zscore(values, self.mean, self.std, eps)


def clip(values: ArrayLike, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Clamp rewards into [low, high] (NaN stays NaN)."""
    if low > high:
        raise ValueError(f"clip: low {low} > high {high}")
    return np.clip(_arr(values), low, high)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # numerically stable logistic


def par(values: ArrayLike, reference_values: ArrayLike) -> np.ndarray:
    """Preference As Reward: r' = sigmoid(r(x, y) - r(x, y_ref)).

    *Reward Shaping to Mitigate Reward Hacking in RLHF*. ``reference_values`` is ``(n,)`` (one reference
    response per prompt) or ``(n, m)`` (m references: the sigmoids are averaged).
    """
    r = _arr(values)
    ref = _arr(reference_values)
    if ref.ndim == 1:
        ref = ref[:, None]
    if ref.shape[0] != r.shape[0]:
        raise ValueError(f"par: {r.shape[0]} rewards but {ref.shape[0]} reference rows")
    return sigmoid(r[:, None] - ref).mean(axis=1)


def step_clip(step_rewards: ArrayLike, eta: float) -> np.ndarray:
    """Clip for dense step rewards: r~_t = min(r_t - eta, 0), so no step can add positive reward.

    *On Designing Effective RL Reward at Training Time for LLM Reasoning*: bounds the cumulative reward,
    removing the incentive to pad solutions with many correct but needless steps. ``(T,)`` -> ``(T,)``.
    """
    return np.minimum(_arr(step_rewards) - eta, 0.0)


def step_delta(step_rewards: ArrayLike) -> np.ndarray:
    """Delta for dense step rewards: r~_t = r_t - r_{t+1}, r~_T = r_T; the sum telescopes to r_1."""
    r = _arr(step_rewards)
    if r.size == 0:
        return r
    out = r.copy()
    out[:-1] = r[:-1] - r[1:]
    return out


def soft_overlong_penalty(lengths: ArrayLike, max_len: int, cache: int) -> np.ndarray:
    """DAPO's soft overlong punishment (TRL ``get_soft_overlong_punishment``), in [-1, 0].

    0 when len <= L_max - L_cache; (L_max - L_cache - len) / L_cache up to L_max; -1 beyond L_max.
    With ``cache == 0`` it is a hard cut: 0 up to L_max, -1 beyond.
    """
    n = _arr(lengths)
    start = max_len - cache
    ramp = (start - n) / cache if cache > 0 else np.zeros_like(n)
    return np.where(n <= start, 0.0, np.where(n <= max_len, ramp, -1.0))


_CONFIDENCE = re.compile(r"confidence:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def extract_confidence(text: str, default: float = 0.5, scale: float = 10.0) -> float:
    """A verbalised "Confidence: 7" (out of ``scale``) as a number in [0, 1]; ``default`` if absent."""
    match = _CONFIDENCE.search(text)
    if match is None:
        return default
    return float(min(max(float(match.group(1)), 0.0), scale) / scale)


@dataclass
class PPOCalibration:
    """PPO-C reward calculation (*Taming Overconfidence in LLMs: Reward Calibration in RLHF*).

    Keeps a moving average r_bar <- (1 - alpha) * r_bar + alpha * mean(batch) of (clamped) rewards and
    moves each reward by its verbalised confidence c in [0, 1]: confident answers gain when the reward is
    above the average and lose when below. Two forms, as in the authors' code (SeanLeng1/Reward-Calibration):
    - ``threshold`` (their default): adj = w * |r| * (c - 0.5); r' = r + adj if r >= r_bar else r - adj;
    - ``difference``: r' = r + w * (r - r_bar) * (c - 0.5).
    The average is updated with the batch before it is applied, as there.
    """

    alpha: float = 0.1
    weight: float = 0.5
    mode: str = "threshold"
    average: float = 0.0
    clamp: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in {"threshold", "difference"}:
            raise ValueError(f"PPOCalibration mode must be threshold or difference, got {self.mode!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"PPOCalibration alpha must be in (0, 1], got {self.alpha}")

    def __call__(self, rewards: ArrayLike, confidences: ArrayLike) -> np.ndarray:
        r = np.clip(_arr(rewards), -self.clamp, self.clamp)
        c = _arr(confidences)
        finite = r[np.isfinite(r)]
        if finite.size:
            self.average = (1 - self.alpha) * self.average + self.alpha * float(finite.mean())
        if self.mode == "difference":
            return r + self.weight * (r - self.average) * (c - 0.5)
        adj = self.weight * np.abs(r) * (c - 0.5)
        return np.where(r >= self.average, r + adj, r - adj)


# ---------------------------------------------------------------------------------------------------------
# Transform steps as written in a composite spec (``transforms: [{zscore: running}, {clip: [-3, 3]}]``).
# Each step wraps one function above; the composite evaluator calls `TransformStep.apply` on a part's
# values, in order. PAR is the one step that needs the reward itself (to score the reference response),
# so the evaluator hands it those scores.

class TransformSpecError(ValueError):
    """A bad transform entry; ``path`` is its key path in the spec."""

    def __init__(self, path: str, message: str):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}")


STEP_KINDS = ("zscore", "clip", "scale", "shift", "par", "ppo_c", "length_penalty", "step_clip", "step_delta")


@dataclass
class TransformStep:
    """One parsed transform; ``state`` holds running statistics (zscore running, PPO-C average)."""

    kind: str
    params: dict
    path: str
    state: object = None

    def apply(self, values: np.ndarray, responses: Sequence[str],
              steps: list | None = None) -> tuple[np.ndarray, list | None]:
        """``(n,)`` values -> transformed values, and the (possibly transformed) per-sample step lists.

        ``par`` is not applied here: it needs the reward to score reference responses, which the composite
        evaluator does (and then calls `par`).
        """
        p, k = self.params, self.kind
        if k == "zscore":
            if isinstance(self.state, RunningStats):
                return self.state.normalize(values), steps
            return zscore(values, p["mean"], p["std"]), steps
        if k == "clip":
            return clip(values, p["low"], p["high"]), steps
        if k == "scale":
            return values * p["by"], steps
        if k == "shift":
            return values + p["by"], steps
        if k == "par":
            raise ValueError("par is applied by the composite evaluator, which can score reference responses")
        if k == "ppo_c":
            assert isinstance(self.state, PPOCalibration)
            return self.state(values, [extract_confidence(r) for r in responses]), steps
        if k == "length_penalty":
            lengths = [len(r.split()) if p["unit"] == "words" else len(r) for r in responses]
            return values + soft_overlong_penalty(lengths, p["max"], p["cache"]), steps
        # step_clip / step_delta: transform the dense step rewards; the value becomes their sum (the
        # return of a dense-reward trajectory). A sample without step rewards gets NaN.
        new_steps: list = []
        for s in steps or [None] * len(values):
            if s is None:
                new_steps.append(None)
            else:
                new_steps.append((step_delta(s) if k == "step_delta" else step_clip(s, p["eta"])).tolist())
        return np.array([np.nan if s is None else float(np.sum(s)) for s in new_steps]), new_steps


def _num(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise TransformSpecError(path, f"must be a finite number, got {value!r}")
    return float(value)


def _step_params(kind: str, arg: object, path: str) -> tuple[dict, object]:
    """Validate one step's argument; returns (params, initial state)."""
    if kind == "zscore":
        if arg == "running":
            return {}, RunningStats()
        if not isinstance(arg, dict) or set(arg) != {"mean", "std"}:
            raise TransformSpecError(path, "zscore takes 'running' or {mean: M, std: S}")
        std = _num(arg["std"], f"{path}.std")
        if std < 0:
            raise TransformSpecError(f"{path}.std", "must be >= 0")
        return {"mean": _num(arg["mean"], f"{path}.mean"), "std": std}, None
    if kind == "clip":
        if isinstance(arg, list) and len(arg) == 2:
            low, high = arg
        elif isinstance(arg, dict) and arg and set(arg) <= {"low", "high"}:
            low, high = arg.get("low"), arg.get("high")
        else:
            raise TransformSpecError(path, "clip takes [low, high] or {low: L, high: H}")
        lo = -np.inf if low is None else _num(low, f"{path}.low")
        hi = np.inf if high is None else _num(high, f"{path}.high")
        if lo > hi:
            raise TransformSpecError(path, f"low {lo} > high {hi}")
        return {"low": lo, "high": hi}, None
    if kind in {"scale", "shift"}:
        return {"by": _num(arg, path)}, None
    if kind == "par":
        arg = arg or {}
        if not isinstance(arg, dict) or set(arg) - {"reference_key"}:
            raise TransformSpecError(path, "par takes {reference_key: METADATA_KEY} (default reference_response)")
        return {"reference_key": str(arg.get("reference_key", "reference_response"))}, None
    if kind == "ppo_c":
        arg = arg or {}
        if not isinstance(arg, dict) or set(arg) - {"alpha", "weight", "mode", "initial"}:
            raise TransformSpecError(path, "ppo_c takes {alpha, weight, mode: threshold|difference, initial}")
        try:
            state = PPOCalibration(alpha=_num(arg.get("alpha", 0.1), f"{path}.alpha"),
                                   weight=_num(arg.get("weight", 0.5), f"{path}.weight"),
                                   mode=str(arg.get("mode", "threshold")),
                                   average=_num(arg.get("initial", 0.0), f"{path}.initial"))
        except ValueError as exc:
            raise TransformSpecError(path, str(exc)) from None
        return {}, state
    if kind == "length_penalty":
        if not isinstance(arg, dict) or set(arg) - {"max", "cache", "unit"} or "max" not in arg:
            raise TransformSpecError(path, "length_penalty takes {max: L, cache: C, unit: words|chars}")
        params = {"max": int(_num(arg["max"], f"{path}.max")), "cache": int(_num(arg.get("cache", 0), f"{path}.cache")),
                  "unit": arg.get("unit", "words")}
        if params["unit"] not in {"words", "chars"} or not 0 <= params["cache"] <= params["max"]:
            raise TransformSpecError(path, "needs 0 <= cache <= max and unit words or chars")
        return params, None
    if kind == "step_clip":
        eta = arg.get("eta") if isinstance(arg, dict) else arg
        return {"eta": _num(eta, f"{path}.eta")}, None
    return {}, None  # step_delta


def parse_transforms(raw: object, path: str) -> list[TransformStep]:
    """Parse a ``transforms:`` list; every error names the entry's key path."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TransformSpecError(path, "must be a list of transforms")
    steps = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if isinstance(entry, str):
            kind, arg = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            kind, arg = next(iter(entry.items()))
        else:
            raise TransformSpecError(where, "each transform is a name or a one-key mapping")
        if kind not in STEP_KINDS:
            import difflib

            hint = difflib.get_close_matches(str(kind), STEP_KINDS, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise TransformSpecError(where, f"unknown transform {kind!r}{suggestion} Known: {', '.join(STEP_KINDS)}")
        if kind == "par" and i != 0:
            raise TransformSpecError(where, "par must be the first transform (it compares raw rewards)")
        params, state = _step_params(kind, arg, f"{where}.{kind}")
        steps.append(TransformStep(kind, params, f"{where}.{kind}", state))
    return steps

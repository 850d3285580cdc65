"""Implicit rewards: a reward read off a language model's likelihoods instead of a trained head.

- DPO implicit reward (*On the Limited Generalization Capability of the Implicit Reward Model Induced by
  Direct Preference Optimization*): r = beta * [log pi(y|x) - log pi_ref(y|x)]; beta * log Z(x) cancels
  whenever two responses to one prompt are compared.
- Modes (reward-bench ``dpo.py`` offers ``sum`` with a reference and ``sum``/``avg``/``norm`` without):
  ``sum`` beta*(S_pi - S_ref); ``mean`` beta*(S_pi/T_pi - S_ref/T_ref), the length-normalised form;
  ``ref_free_sum`` beta*S_pi; ``ref_free_avg`` beta*S_pi/T_pi (SimPO); ``norm`` -beta*||(log pi(y_t))_t||_2.
  S is a sum of response-token log-probs (eos included), T the token count.
- CDR (*CDR: Customizable Density Ratios of Strong-over-weak LLMs*): log pi_strong(y|x) - log pi_weak(y|x),
  optionally with the same criteria text (``context=FILE``) put in front of both models' prompts.
- Implicit PRM (*Free Process Rewards without Process Labels*): with ``steps=true`` each step's reward is
  beta * the sum of log-ratios over that step's tokens (a step owns the separator after it; eos belongs to
  the last step), so the step rewards add up to the outcome reward; ``agg`` reduces them to ``value``.

Spec: ``implicit:policy=PATH,ref=PATH[,beta=0.1][,mode=...][,steps=true,agg=min|last|mean|sum]``,
``implicit:cdr,strong=PATH,weak=PATH``, plus ``cache=PATH|none``, ``share_prompt=auto|true|false``,
``eos=true|false``, ``step_sep=...`` (alias ``split``, as in ``process:``), ``max_length``,
``truncation``, ``batch_tokens``, ``max_batch_size``, ``device``, ``dtype``. A policy trained by
``rewardlab.train.dpo`` records its reference and beta, so ``implicit:policy=OUT`` alone uses the right
reference (a wrong one is reward-bench #116 / #143).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.engine.causal import CausalScorer, ScoringSettings
from rewardlab.engine.encoding import TruncationPolicy
from rewardlab.engine.forward import BatchSettings, ForwardStats
from rewardlab.engine.loading import weights_hash
from rewardlab.engine.logprob_cache import LogProbCache, default_cache_path
from rewardlab.rewards.base import parse_options
from rewardlab.types import Sample, Score

WITH_REF = ("sum", "mean")
REF_FREE = ("ref_free_sum", "ref_free_avg", "norm")
MODES = WITH_REF + REF_FREE
AGGREGATIONS = ("min", "last", "mean", "sum")
DPO_RECORD = "rewardlab_dpo.json"
"""Written beside a DPO-trained policy: its reference model, that model's weights hash, and beta."""

_TRUE = {"1", "true", "yes", "on"}
_KNOWN = {"policy", "ref", "strong", "weak", "beta", "mode", "steps", "agg", "step_sep", "split", "cache",
          "share_prompt", "eos", "context", "max_length", "truncation", "batch_tokens", "max_batch_size",
          "device", "dtype"}


@dataclass
class ImplicitOptions:
    policy: str
    ref: str | None = None
    beta: float | None = None
    mode: str | None = None
    steps: bool = False
    agg: str = "min"
    step_sep: str = "\n\n"
    cache: str | None = str(default_cache_path())
    context: str | None = None
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    cdr: bool = False

    @classmethod
    def from_spec(cls, argument: str) -> ImplicitOptions:
        head, opts = parse_options(argument)
        unknown = set(opts) - _KNOWN
        if unknown:
            raise ValueError(f"unknown implicit option(s) {sorted(unknown)}; known: {sorted(_KNOWN)}")
        cdr = head == "cdr"
        if cdr:
            missing = [k for k in ("strong", "weak") if k not in opts]
            if missing:
                raise ValueError(f"implicit:cdr needs strong=PATH and weak=PATH (missing {missing})")
            policy, ref = opts["strong"], opts["weak"]
        else:
            policy, ref = opts.get("policy") or head, opts.get("ref")
            if not policy:
                raise ValueError("implicit needs policy=PATH (the DPO-tuned model), e.g. "
                                 "implicit:policy=out/dpo,ref=out/sft")
        scoring = ScoringSettings(
            max_length=_number(opts, "max_length", int),
            truncation=TruncationPolicy(opts.get("truncation", "truncate-left")),
            batch=BatchSettings(_number(opts, "batch_tokens", int), _number(opts, "max_batch_size", int)),
            share_prompt=opts.get("share_prompt", "auto").lower(),
            add_eos=opts.get("eos", "true").lower() in _TRUE,
            device=opts.get("device"), dtype=opts.get("dtype"),
        )
        if scoring.share_prompt not in {"auto", "true", "false"}:
            raise ValueError(f"share_prompt must be auto, true or false, got {scoring.share_prompt!r}")
        cache = opts.get("cache", str(default_cache_path()))
        return cls(
            policy=policy, ref=None if (ref or "").lower() in {"", "none"} else ref,
            beta=_number(opts, "beta", float) if "beta" in opts else (1.0 if cdr else None),
            mode=opts.get("mode"), steps=opts.get("steps", "false").lower() in _TRUE,
            agg=opts.get("agg", "min"),
            step_sep=_unescape(opts.get("step_sep", opts.get("split", "\\n\\n"))),
            cache=None if cache.lower() in {"", "none", "off", "false"} else cache,
            context=opts.get("context"), scoring=scoring, cdr=cdr,
        )


def _number(opts: dict[str, str], key: str, kind: type) -> Any:
    """A numeric option, or an error naming the key (not Python's bare "could not convert")."""
    if key not in opts:
        return None
    try:
        value = kind(opts[key])
    except ValueError:
        raise ValueError(f"implicit option {key}={opts[key]!r} is not {'an integer' if kind is int else 'a number'}"
                         ) from None
    if not value > 0:
        raise ValueError(f"implicit option {key}={opts[key]!r} must be positive")
    return value


def _unescape(text: str) -> str:
    """Spec strings cannot hold a raw newline: ``step_sep=\\n`` means one."""
    return text.replace("\\n", "\n").replace("\\t", "\t")


def resolve_reference(options: ImplicitOptions) -> ImplicitOptions:
    """Fill ``ref``/``beta``/``mode`` from the DPO record beside the policy, then check the combination."""
    record_path = Path(options.policy) / DPO_RECORD
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    ref, beta, mode = options.ref, options.beta, options.mode
    if ref is None and mode not in REF_FREE and record.get("reference"):
        ref = record["reference"]
        recorded, actual = record.get("reference_sha256"), weights_hash(ref)
        if recorded and actual != recorded:
            raise ValueError(f"implicit: {record_path} names reference {ref}, but its weights changed since "
                             "training (sha256 differs); pass ref=PATH to the model the policy was trained against")
    beta = beta if beta is not None else float(record.get("beta", 0.1))
    mode = mode or ("sum" if ref is not None else None)
    if mode is None:
        raise ValueError("implicit: no reference model. Give ref=PATH for the DPO implicit reward, or a "
                         f"reference-free mode: mode={'|'.join(REF_FREE)}")
    if mode not in MODES:
        raise ValueError(f"implicit: unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if mode in WITH_REF and ref is None:
        raise ValueError(f"implicit: mode={mode} needs ref=PATH (or use one of {', '.join(REF_FREE)})")
    if mode in REF_FREE and ref is not None:
        raise ValueError(f"implicit: mode={mode} is reference-free; drop ref= or use mode=sum|mean")
    if options.steps and mode not in ("sum", "ref_free_sum"):
        raise ValueError("implicit: steps=true sums log-ratios over each step: use mode=sum (or ref_free_sum)")
    if options.agg not in AGGREGATIONS:
        raise ValueError(f"implicit: unknown agg {options.agg!r}; choose one of {', '.join(AGGREGATIONS)}")
    return replace(options, ref=ref, beta=beta, mode=mode)


def sequence_reward(policy_lp: np.ndarray, ref_lp: np.ndarray | None, mode: str, beta: float) -> float:
    """The implicit reward of one response from its per-token log-probs (formulas in the module doc)."""
    if mode == "sum":
        return beta * (float(policy_lp.sum()) - float(ref_lp.sum()))
    if mode == "mean":
        return beta * (float(policy_lp.mean()) - float(ref_lp.mean()))
    if mode == "ref_free_sum":
        return beta * float(policy_lp.sum())
    if mode == "ref_free_avg":
        return beta * float(policy_lp.mean())
    if mode == "norm":
        return -beta * float(np.linalg.norm(policy_lp))
    raise ValueError(f"unknown mode {mode!r}")


def step_starts(response_text: str, steps: Sequence[str] | None, sep: str) -> list[int]:
    """Character offset where each step begins in ``response_text``; step 0 begins at 0.

    Given ``steps`` are found in order (a step missing from the response is an error, not a guess);
    without them the response is split on ``sep``.
    """
    if steps is None:
        starts, position = [], 0
        for segment in response_text.split(sep) if sep else [response_text]:
            if segment.strip():  # a blank segment (doubled or trailing separator) joins the step before it
                starts.append(position)
            position += len(segment) + len(sep)
        return [0] + starts[1:]
    starts, cursor = [], 0
    for k, step in enumerate(steps):
        hit = response_text.find(step, cursor)
        if hit < 0 or not step:
            raise ValueError(f"step {k} ({step[:40]!r}) not found in the response after character {cursor}")
        starts.append(hit)
        cursor = hit + len(step)
    starts[0] = 0
    return starts


def step_sums(values: np.ndarray, offsets: Sequence[tuple[int, int]], starts: Sequence[int]) -> np.ndarray:
    """Sum per-token ``values`` into steps: token j goes to the last step starting at or before it."""
    owner = np.searchsorted(np.asarray(starts), [o[0] for o in offsets], side="right") - 1
    return np.bincount(np.clip(owner, 0, None), weights=values, minlength=len(starts))


def aggregate(step_rewards: Sequence[float], agg: str) -> float:
    values = np.asarray(step_rewards, dtype=np.float64)
    return float({"min": values.min, "last": lambda: values[-1], "mean": values.mean,
                  "sum": values.sum}[agg]())


class ImplicitReward:
    """DPO / CDR / implicit-PRM reward from a policy and (usually) a reference model."""

    def __init__(self, options: ImplicitOptions, name: str | None = None):
        self.options = resolve_reference(options)
        cache = LogProbCache(self.options.cache) if self.options.cache else None
        self.policy = CausalScorer(self.options.policy, self.options.scoring)
        self.ref = (CausalScorer(self.options.ref, self.options.scoring, cache)
                    if self.options.ref is not None else None)
        self.context = Path(self.options.context).read_text() if self.options.context else None
        self.name = name or f"implicit:policy={self.options.policy},ref={self.options.ref}"

    @classmethod
    def from_spec(cls, argument: str) -> ImplicitReward:
        return cls(ImplicitOptions.from_spec(argument), name=f"implicit:{argument}")

    @property
    def stats(self) -> ForwardStats:
        """Tokens run through the policy (the reference may be served from the cache)."""
        return self.policy.stats

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        samples = [self._with_context(s) for s in samples]
        sides = [self.policy] + ([self.ref] if self.ref is not None else [])
        tokenized = [side.tokenize(samples) for side in sides]
        logps = [side.logprobs(tok) for side, tok in zip(sides, tokenized)]
        scores = []
        for i, sample in enumerate(samples):
            reasons = [tok.dropped[i] for tok in tokenized if i in tok.dropped]
            if reasons:
                scores.append(Score.failure("; ".join(reasons)))
                continue
            items = [tok.items[i] for tok in tokenized]
            lps = [lp[i] for lp in logps]
            scores.append(self._score_one(sample, items, lps))
        return scores

    def _score_one(self, sample: Sample, items: list[Any], lps: list[np.ndarray]) -> Score:
        opts = self.options
        ref_lp = lps[1] if len(lps) > 1 else None
        components = {"policy_logp": float(lps[0].sum()), "tokens": float(len(lps[0]))}
        if ref_lp is not None:
            components["ref_logp"] = float(ref_lp.sum())
        outcome = sequence_reward(lps[0], ref_lp, opts.mode, opts.beta)
        if not opts.steps:
            return Score(value=outcome, components=components)
        try:
            per_side = [step_sums(lp, it.offsets, step_starts(it.response_text, sample.steps, opts.step_sep))
                        for lp, it in zip(lps, items)]
        except ValueError as exc:
            return Score.failure(f"implicit steps: {exc}")
        if len({len(s) for s in per_side}) != 1:
            return Score.failure("implicit steps: policy and reference split the response differently")
        rewards = opts.beta * (per_side[0] - (per_side[1] if len(per_side) > 1 else 0.0))
        components["outcome"] = outcome
        return Score(value=aggregate(rewards, opts.agg), steps=[float(r) for r in rewards],
                     components=components)

    def _with_context(self, sample: Sample) -> Sample:
        """CDR customisation: the same criteria/exemplar text in front of the prompt for both models."""
        if not self.context:
            return sample
        if isinstance(sample.prompt, str):
            return replace(sample, prompt=f"{self.context}\n\n{sample.prompt}")
        return replace(sample, prompt=[{"role": "system", "content": self.context}, *sample.prompt])

    def provenance(self) -> dict[str, Any]:
        def side(scorer: CausalScorer | None) -> dict[str, Any] | None:
            if scorer is None:
                return None
            return {"path": scorer.path, "weights_sha256": scorer.weights_sha256,
                    "dtype": str(scorer.dtype).replace("torch.", ""), "device": str(scorer.device),
                    "loaded": scorer.is_loaded, "truncated": scorer.truncated, "dropped": scorer.dropped,
                    "cache": str(scorer.cache.path) if scorer.cache else None,
                    "cache_hits": scorer.cache.hits if scorer.cache else 0,
                    "cache_misses": scorer.cache.misses if scorer.cache else 0}

        o = self.options
        return {"family": "implicit", "variant": "cdr" if o.cdr else ("prm" if o.steps else "dpo"),
                "mode": o.mode, "beta": o.beta, "steps": o.steps, "agg": o.agg if o.steps else None,
                "padding_side": "prompt left, response right", "add_eos": o.scoring.add_eos,
                "share_prompt": o.scoring.share_prompt, "truncation": o.scoring.truncation.value,
                "policy": side(self.policy), "reference": side(self.ref)}


def from_spec(argument: str) -> ImplicitReward:
    """Entry point for ``implicit:...`` specs (see the module docstring for the options)."""
    return ImplicitReward.from_spec(argument)


def process_from_spec(argument: str) -> ImplicitReward:
    """``process:implicit,...`` routes here: the implicit PRM, i.e. ``implicit:...,steps=true``."""
    head, opts = parse_options(argument)
    if head and head != "implicit":
        opts.setdefault("policy", head)
    opts["steps"] = "true"
    spec = ",".join(f"{k}={v}" for k, v in opts.items())
    return ImplicitReward(ImplicitOptions.from_spec(spec), name=f"process:implicit,{spec}")

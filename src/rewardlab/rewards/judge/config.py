"""The ``judge:`` spec: which backend runs the judge, which protocol it follows, and the rules it obeys.

``judge:BACKEND:TARGET[,judge options][,backend options]``, e.g.
``judge:hf:runs/policy,protocol=pairwise,mode=logprob`` or
``judge:openai:gpt-4o-mini,protocol=correctness,base_url=http://127.0.0.1:8000/v1,concurrency=16``.
Judge options are the fields of `JudgeConfig` (plus the protocol's ``format``, ``variant``, ``criteria``,
``rubric``); every other option goes to the generation backend (docs/generation.md), so a typo is caught
by whichever side does not know it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rewardlab.rewards.judge.rules import AGGREGATES, POSITION_RULES, FailurePolicy

MODES = ("generate", "logprob")
PROTOCOL_OPTIONS = ("format", "variant", "criteria", "rubric")


@dataclass(frozen=True)
class JudgeConfig:
    """How a judge asks and decides. Defaults follow the published protocols (temperature 0, one sample,
    one random order per pair as RewardBench does, failures counted)."""

    protocol: str = "pairwise"
    mode: str = "generate"
    position: str | None = None
    failure: FailurePolicy = field(default_factory=FailurePolicy)
    samples: int = 1
    aggregate: str = "mean"
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 2048
    seed: int = 0
    protocol_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.position is not None and self.position not in POSITION_RULES:
            raise ValueError(f"position must be one of {POSITION_RULES}, got {self.position!r}")
        if self.aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {self.aggregate!r}")
        if self.samples < 1 or self.samples > 64:
            raise ValueError(f"samples must be in [1, 64], got {self.samples}")
        if self.samples > 1 and self.temperature <= 0:
            raise ValueError("samples > 1 needs temperature > 0: greedy samples are all the same")
        if self.mode == "logprob" and (self.samples > 1 or self.failure.kind == "resample"):
            raise ValueError("logprob mode is one deterministic forward: samples and resample do not apply")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")

    @property
    def position_rule(self) -> str:
        """The position rule in force: as given, else ``both_agree_or_skip`` for tournaments (OpenJudge's
        debiased mode) and ``single`` for everything else (RewardBench)."""
        if self.position is not None:
            return self.position
        return "both_agree_or_skip" if self.protocol == "tournament" else "single"

    def describe(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "protocol_options"}
        out["failure"] = str(self.failure)
        out["position"] = self.position_rule
        out.update({k: str(v) for k, v in self.protocol_options.items() if k != "criteria"})
        return out


_CASTS = {"samples": int, "max_tokens": int, "seed": int, "temperature": float, "top_p": float,
          "failure": FailurePolicy.parse}


def split_spec(argument: str) -> tuple[str, JudgeConfig]:
    """``"hf:PATH,protocol=...,device=cpu"`` -> (backend spec ``"hf:PATH,device=cpu"``, judge config)."""
    from rewardlab.rewards.base import parse_options

    head, options = parse_options(argument)
    if ":" not in head:
        raise ValueError(f"judge spec needs a backend: judge:hf:PATH or judge:openai:MODEL (got {head!r})")
    known = {f.name for f in fields(JudgeConfig)} - {"protocol_options"}
    judge: dict[str, Any] = {}
    protocol_options: dict[str, Any] = {}
    backend: dict[str, str] = {}
    for key, value in options.items():
        if key in known:
            try:
                judge[key] = _CASTS.get(key, str)(value)
            except ValueError as exc:
                raise ValueError(f"judge option {key}={value!r}: {exc}") from None
        elif key in PROTOCOL_OPTIONS:
            protocol_options[key] = value
        else:
            backend[key] = value
    if "criteria" in protocol_options:
        from rewardlab.rewards.judge.criteria import load_criteria

        protocol_options["criteria"] = load_criteria(protocol_options["criteria"])
    if "rubric" in protocol_options:
        path = Path(protocol_options["rubric"])
        if not path.is_file():
            raise FileNotFoundError(f"rubric={path}: not a file (a text file with the score rubric)")
        protocol_options["rubric"] = path.read_text(encoding="utf-8")
    spec = head + "".join(f",{k}={v}" for k, v in backend.items())
    return spec, JudgeConfig(**judge, protocol_options=protocol_options)

"""What every generation backend speaks: sampling settings in, completions (with token counts) out.

A prompt is either a string or a chat conversation, and the two mean different things on purpose:
- a **string** is text the model continues as it is (no chat template; the completions endpoint);
- a **message list** is a conversation the backend renders with the model's own chat template (or the
  chat endpoint), ending with the generation prompt of the assistant's turn.

Judges render messages; search over a base policy (the embedded world's, which has no template) passes
strings. Every completion carries its generated-token count, because search and judges account compute.
Failures are values: a completion that could not be produced has ``error`` set and empty text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from rewardlab.registry import Registry
from rewardlab.types import Message, prompt_to_text

GenPrompt = str | list[Message]
"""A string (continued verbatim) or a chat conversation (rendered with the chat template)."""

GENERATORS: Registry = Registry("generation backend", group="rewardlab.generators")


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. ``temperature <= 0`` is greedy (all ``n`` samples are then one completion, repeated).

    ``seed`` fixes sampling: sample ``i`` of a prompt depends only on (seed, rendered prompt, i), never on
    which other prompts share its batch. ``stop`` strings end a completion and are not part of its text
    (the OpenAI convention). ``logprobs`` asks for the log-probability of each generated token and
    ``top_logprobs`` for the k most likely alternatives at each position (0 = none).
    """

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int = 0
    logprobs: bool = False
    top_logprobs: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.top_logprobs < 0 or self.top_logprobs > 20:
            raise ValueError(f"top_logprobs must be in [0, 20], got {self.top_logprobs}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def with_(self, **changes: Any) -> SamplingParams:
        return replace(self, **changes)

    def cache_fields(self) -> dict[str, Any]:
        """The settings a completion depends on (``n`` is not one: samples are cached one index at a time;
        the seed matters only when sampling)."""
        out: dict[str, Any] = {"temperature": 0.0 if self.greedy else self.temperature,
                               "top_p": 1.0 if self.greedy else self.top_p, "max_new_tokens": self.max_new_tokens,
                               "stop": list(self.stop), "logprobs": self.logprobs, "top_logprobs": self.top_logprobs}
        if not self.greedy:
            out["seed"] = self.seed
        return out


@dataclass
class Completion:
    """One generated continuation.

    ``tokens`` is the number of tokens generated (what the compute was spent on, stop-string tokens
    included; None only when a server reports no usage); ``prompt_tokens`` the prompt's length in tokens.
    ``finish_reason`` is ``stop`` (end of sequence or a stop string), ``length`` (hit ``max_new_tokens``) or
    ``error``. ``logprobs[j]`` is the log-probability of generated token ``j``, ``token_texts[j]`` its text
    (``token_ids`` too, from local backends), and ``top_logprobs[j]`` maps the most likely token strings at
    position ``j`` to their log-probabilities.
    """

    text: str
    tokens: int | None
    finish_reason: str
    prompt_tokens: int | None = None
    logprobs: list[float] | None = None
    top_logprobs: list[dict[str, float]] | None = None
    token_texts: list[str] | None = None
    token_ids: list[int] | None = None
    cached: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failure(cls, reason: str) -> Completion:
        return cls(text="", tokens=0, finish_reason="error", error=reason)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tokens": self.tokens, "finish_reason": self.finish_reason,
                "prompt_tokens": self.prompt_tokens, "logprobs": self.logprobs, "top_logprobs": self.top_logprobs,
                "token_texts": self.token_texts, "token_ids": self.token_ids}

    @classmethod
    def from_json(cls, obj: dict[str, Any], cached: bool = False) -> Completion:
        return cls(text=obj["text"], tokens=obj["tokens"], finish_reason=obj["finish_reason"],
                   prompt_tokens=obj.get("prompt_tokens"), logprobs=obj.get("logprobs"),
                   top_logprobs=obj.get("top_logprobs"), token_texts=obj.get("token_texts"),
                   token_ids=obj.get("token_ids"), cached=cached)


@dataclass
class VerdictProbs:
    """The next-token distribution over a judge's verdict tokens at the answer position.

    ``probs[v]`` is the probability (over the whole vocabulary) of the tokens that spell verdict ``v``;
    ``mass`` is their sum: a judge that follows its format puts most of its mass there, and a small mass
    says the verdict is a guess. `normalized` renormalises over the verdicts.
    """

    probs: dict[str, float]
    error: str | None = None

    @property
    def mass(self) -> float:
        return float(sum(self.probs.values()))

    @property
    def ok(self) -> bool:
        return self.error is None and self.mass > 0

    def normalized(self) -> dict[str, float]:
        total = self.mass
        if total <= 0:
            return {k: float("nan") for k in self.probs}
        return {k: v / total for k, v in self.probs.items()}

    @classmethod
    def failure(cls, verdicts: Sequence[str], reason: str) -> VerdictProbs:
        return cls({v: 0.0 for v in verdicts}, error=reason)


@dataclass
class GenerationStats:
    """Running totals of one backend: what was asked, what was computed, what came from the cache."""

    requests: int = 0
    completions: int = 0
    cached_completions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    retries: int = 0
    forwards: int = 0
    seconds: float = 0.0
    unknown_token_counts: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def count_failure(self, reason: str) -> None:
        self.failures += 1
        key = reason[:120]
        self.by_reason[key] = self.by_reason.get(key, 0) + 1

    def to_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}


@runtime_checkable
class Generator(Protocol):
    """A generation backend: batched sampling plus the judges' one-forward verdict distribution.

    ``generate(prompts, params)[i][j]`` is sample ``j`` of prompt ``i``; ``verdict_probs`` reads the
    probability of each verdict at the answer position after ``prompt`` followed by ``prefix``. The async
    forms do the same work without blocking an event loop.
    """

    name: str
    stats: GenerationStats

    def generate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]: ...

    async def agenerate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]: ...

    def verdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                      prefix: str = "") -> list[VerdictProbs]: ...

    async def averdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                             prefix: str = "") -> list[VerdictProbs]: ...

    def provenance(self) -> dict[str, Any]: ...


def load_generator(spec: str | Generator, **overrides: Any) -> Generator:
    """``BACKEND:ARGUMENT[,key=value...]`` -> a backend: ``hf:PATH``, ``openai:MODEL,base_url=URL``.

    Each backend registers a factory ``(argument, **overrides)`` under the entry-point group
    ``rewardlab.generators``; ``overrides`` are Python-side settings (an explicitly allowed API key name).
    """
    if not isinstance(spec, str):
        return spec
    backend, sep, argument = spec.strip().partition(":")
    if not sep:
        raise ValueError(f"generation spec {spec!r} has no backend; write BACKEND:ARGUMENT, e.g. hf:PATH or "
                         f"openai:MODEL. Backends: {', '.join(GENERATORS.names())}")
    return GENERATORS.get(backend)(argument, **overrides)


def plain_chat_text(messages: Sequence[Message]) -> str:
    """A conversation as plain text for models without a chat template (the hh-rlhf transcript style,
    ending with ``Assistant:`` so the model writes the next turn)."""
    return prompt_to_text(list(messages))


def sample_seed(seed: int, prompt_key: str, index: int) -> int:
    """A 63-bit seed for sample ``index`` of a prompt: stable across runs, batches and processes."""
    digest = hashlib.sha256(f"{seed}\x1f{index}\x1f{prompt_key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the earliest stop string (excluded); returns (text, whether a stop was found)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)

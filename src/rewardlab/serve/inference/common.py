"""What the ``vllm:`` and ``sglang:`` reward families share: spec options, the reward model's own
tokenizer and head description, and JSON POSTs with retries.

The server is given token ids, never raw text: rewardlab renders every sample with the reward model's
own tokenizer and chat template (`rewardlab.engine.encoding.encode_samples`, the very ids the local
``classifier:`` family scores), so the server cannot re-template, add a second BOS or truncate
differently, and a served model gives the scores the same model gives locally. The tokenizer folder
(``tokenizer=PATH``, default the served model name) also holds the model config, whose head description
(``rewardlab_head``, labels, ``rewardlab_prm`` layout) says how logits become a reward.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from rewardlab.serve.client import MAX_RETRY_AFTER_S, RETRY_STATUSES, RemoteRewardError

TRUNCATIONS = ("truncate-left", "truncate-right", "drop", "error")
COMMON_KEYS = {"model", "tokenizer", "max_length", "truncation", "batch_size", "timeout", "retries", "backoff",
               "max_in_flight", "api_key_env"}


@dataclass
class ServerOptions:
    """Options every inference-server family takes (``family:URL,key=value,...``)."""

    url: str
    model: str | None = None
    tokenizer: str | None = None
    max_length: int | None = None
    truncation: str = "truncate-left"
    batch_size: int = 64
    timeout: float = 120.0
    retries: int = 4
    backoff: float = 0.5
    max_in_flight: int = 4
    api_key_env: str | None = None

    @classmethod
    def parse(cls, family: str, argument: str, extra_keys: set[str]) -> tuple[ServerOptions, dict[str, str]]:
        """Common options and the family's own (``extra_keys``); an unknown key is an error naming it."""
        from rewardlab.rewards.base import parse_options

        url, options = parse_options(argument)
        if not url:
            raise ValueError(f"{family}: no server URL; write {family}:http://HOST:PORT,model=NAME,tokenizer=PATH")
        unknown = set(options) - COMMON_KEYS - extra_keys
        if unknown:
            raise ValueError(f"unknown {family} option(s) {sorted(unknown)}; known: {sorted(COMMON_KEYS | extra_keys)}")
        made = cls(url=url if "://" in url else f"http://{url}", model=options.get("model"),
                   tokenizer=options.get("tokenizer"),
                   max_length=int(options["max_length"]) if "max_length" in options else None,
                   truncation=options.get("truncation", "truncate-left"),
                   batch_size=int(options.get("batch_size", 64)), timeout=float(options.get("timeout", 120)),
                   retries=int(options.get("retries", 4)), backoff=float(options.get("backoff", 0.5)),
                   max_in_flight=int(options.get("max_in_flight", 4)), api_key_env=options.get("api_key_env"))
        if made.truncation not in TRUNCATIONS:
            raise ValueError(f"{family}: truncation={made.truncation!r}; choose one of {', '.join(TRUNCATIONS)}")
        if made.batch_size <= 0 or made.max_in_flight <= 0 or made.timeout <= 0 or made.retries < 0:
            raise ValueError(f"{family}: batch_size, max_in_flight and timeout must be positive, retries >= 0")
        if not (made.tokenizer or made.model):
            raise ValueError(f"{family}: give tokenizer=PATH (the reward model's folder, for its chat template "
                             "and head) or model=NAME")
        return made, {k: v for k, v in options.items() if k in extra_keys}


class JsonClient:
    """POST JSON to one server: transient failures (connection errors, 429/502/503/504) are retried with
    jittered exponential backoff and Retry-After; a 4xx fails at once with the server's message."""

    def __init__(self, options: ServerOptions):
        from rewardlab.generation.keys import read_key

        key = read_key(options.api_key_env)
        self.url, self.retries, self.backoff = options.url.rstrip("/"), options.retries, options.backoff
        self.max_in_flight = options.max_in_flight
        self._http = httpx.Client(base_url=self.url, headers={"authorization": f"Bearer {key}"} if key else {},
                                  timeout=httpx.Timeout(options.timeout, connect=min(10.0, options.timeout)))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response.json()
                last = f"HTTP {response.status_code}: {response.text[:500]}"
                if response.status_code not in RETRY_STATUSES:
                    raise RemoteRewardError(f"{self.url}{path} refused the request: {last}")
                wait = max(wait, _retry_after(response))
            if attempt < self.retries:
                time.sleep(wait)
        raise RemoteRewardError(f"{self.url}{path} failed after {self.retries + 1} attempts; last: {last}")

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` over ``items`` with up to ``max_in_flight`` requests at once, results in order."""
        if self.max_in_flight == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(min(self.max_in_flight, len(items))) as pool:
            return list(pool.map(fn, items))

    def close(self) -> None:
        self._http.close()


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", 0))))
    except ValueError:
        return 0.0


@dataclass
class RewardModelFiles:
    """The reward model's tokenizer and config, read from its local folder (or hub id, where reachable)."""

    path: str
    tokenizer: Any
    config: Any
    max_length: int

    @classmethod
    def load(cls, options: ServerOptions) -> RewardModelFiles:
        from transformers import AutoConfig

        from rewardlab.engine.encoding import model_max_length
        from rewardlab.engine.loading import load_tokenizer, quiet_transformers, resolve_model_path

        quiet_transformers()
        path = resolve_model_path(options.tokenizer or options.model)
        tokenizer = load_tokenizer(path)
        config = AutoConfig.from_pretrained(path)
        return cls(path, tokenizer, config, options.max_length or model_max_length(tokenizer, config))

    @property
    def labels(self) -> list[str]:
        n = int(getattr(self.config, "num_labels", 1) or 1)
        id2label = getattr(self.config, "id2label", None) or {}
        return [id2label.get(i, f"label_{i}") for i in range(n)]


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def body(model: str | None, **fields: Any) -> dict[str, Any]:
    """A request body; ``model`` is sent only when given (both servers default to the one they serve)."""
    return {**({"model": model} if model else {}), **fields}

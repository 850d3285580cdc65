"""The ``openai`` backend: any OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, hosted APIs).

Spec: ``openai:MODEL[,base_url=URL][,endpoint=auto|chat|completions][,concurrency=8][,rpm=N][,tpm=N]
[,timeout=120][,retries=4][,backoff=0.5][,cache=default|off|PATH][,namespace=STR][,n_per_request=false]
[,api_key_env=NAME]``. Without ``base_url`` it is OpenAI's API with ``OPENAI_API_KEY``; with one, no key is
sent unless ``api_key_env`` names an allowed variable (`keys`).

Requests run concurrently (at most ``concurrency`` in flight, optional requests- and tokens-per-minute
limits) on one ``httpx.AsyncClient`` per call. Transport errors, 429 and 500/502/503/504 are retried with
exponential back-off (honouring Retry-After); other 4xx are never retried: 401/403/404 abort the call
(wrong key, URL or model), the rest fail that item with the server's message. Each sample is one
request with its own seed (``n_per_request=true`` asks the server for ``n`` at once instead), cached one
sample index at a time (`cache`).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from rewardlab.generation import openai_wire as wire
from rewardlab.generation.base import (
    Completion,
    GenerationStats,
    GenPrompt,
    SamplingParams,
    VerdictProbs,
    sample_seed,
)
from rewardlab.generation.cache import GenerationCache, completion_key
from rewardlab.generation.keys import read_key
from rewardlab.generation.limits import RateLimiter, backoff_delay
from rewardlab.generation.sync import run_sync

OPENAI_URL = "https://api.openai.com/v1"
RETRY_STATUSES = {429, 500, 502, 503, 504}
FATAL_STATUSES = {401, 403, 404}
VERDICT_SEARCH_TOKENS = 16


class GenerationError(RuntimeError):
    """The backend cannot work at all (bad key, wrong URL or model); the message says which."""


@dataclass(frozen=True)
class OpenAIConfig:
    """Everything about where and how requests go; one object so specs, Python and the CLI agree."""

    model: str
    base_url: str = OPENAI_URL
    endpoint: str = "auto"
    api_key_env: str | None = None
    concurrency: int = 8
    rpm: int | None = None
    tpm: int | None = None
    timeout: float = 120.0
    retries: int = 4
    backoff: float = 0.5
    cache: str = "default"
    namespace: str = ""
    n_per_request: bool = False

    def __post_init__(self) -> None:
        if self.endpoint not in {"auto", "chat", "completions"}:
            raise ValueError(f"endpoint must be auto, chat or completions, got {self.endpoint!r}")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.concurrency < 1 or self.retries < 0 or self.timeout <= 0 or self.backoff < 0:
            raise ValueError("concurrency and timeout must be positive, retries and backoff not negative")


class OpenAIGenerator:
    """Async, cached, rate-limited generation against one model on one OpenAI-compatible server."""

    def __init__(self, config: OpenAIConfig, api_key: str | None = None, trusted_key_env: bool = True):
        """``trusted_key_env``: ``config.api_key_env`` came from Python, not from a spec (`from_spec` passes
        False, so a spec may name only allowed variables)."""
        self.config = config
        self.name = f"openai:{config.model}"
        key_env = config.api_key_env or ("OPENAI_API_KEY" if config.base_url == OPENAI_URL else None)
        self._api_key = api_key or read_key(key_env, trusted=trusted_key_env or config.api_key_env is None)
        path = None if config.cache == "default" else config.cache
        self.cache = None if config.cache == "off" else GenerationCache(path)
        self.limiter = RateLimiter(config.rpm, config.tpm)
        self.stats = GenerationStats()

    @classmethod
    def from_spec(cls, argument: str, api_key: str | None = None,
                  allow_key_envs: Sequence[str] = ()) -> OpenAIGenerator:
        """Build from spec text; ``allow_key_envs`` are names the Python caller allows for this spec."""
        from rewardlab.rewards.base import parse_options

        model, options = parse_options(argument)
        if not model:
            raise ValueError("openai backend needs a model name: openai:MODEL[,base_url=URL]")
        kinds = {"concurrency": int, "rpm": int, "tpm": int, "retries": int, "timeout": float, "backoff": float,
                 "n_per_request": _flag}
        known = set(OpenAIConfig.__dataclass_fields__) - {"model"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown openai backend option(s) {unknown}; known: {', '.join(sorted(known))}")
        config = OpenAIConfig(model=model, **{k: kinds.get(k, str)(v) for k, v in options.items()})
        return cls(config, api_key=api_key, trusted_key_env=config.api_key_env in set(allow_key_envs))

    def provenance(self) -> dict[str, Any]:
        c = self.config
        return {"backend": "openai", "model": c.model, "base_url": c.base_url, "endpoint": c.endpoint,
                "cache": str(self.cache.path) if self.cache else None, "namespace": c.namespace}

    # -- generation --------------------------------------------------------------------------------------
    def generate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]:
        return run_sync(self.agenerate(prompts, params))

    async def agenerate(self, prompts: Sequence[GenPrompt], params: SamplingParams) -> list[list[Completion]]:
        start = time.perf_counter()
        per_prompt = 1 if params.greedy else params.n
        keys = [[self._key(p, params, j) for j in range(per_prompt)] for p in prompts]
        found = self.cache.get_many(k for row in keys for k in row) if self.cache else {}
        results: list[list[Completion | None]] = [[found.get(k) for k in row] for row in keys]
        jobs = [(i, [j for j, c in enumerate(row) if c is None]) for i, row in enumerate(results)]
        jobs = [(i, missing) for i, missing in jobs if missing]
        semaphore = asyncio.Semaphore(self.config.concurrency)
        async with self._client() as client:
            tasks = [asyncio.ensure_future(self._fill(client, semaphore, prompts[i], params, missing))
                     for i, missing in jobs]
            try:
                filled = await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                raise
        fresh = {}
        for (i, missing), completions in zip(jobs, filled):
            for j, completion in zip(missing, completions):
                results[i][j] = completion
                fresh[keys[i][j]] = completion
        if self.cache:
            self.cache.put_many(fresh)
        out = [[c for c in row if c is not None] for row in results]
        out = [row * params.n if params.greedy else row for row in out]
        self.stats.completions += sum(len(r) for r in out)
        self.stats.cached_completions += len(found)
        self.stats.seconds += time.perf_counter() - start
        return out

    def _key(self, prompt: GenPrompt, params: SamplingParams, index: int) -> str:
        c = self.config
        identity = {"model": c.model, "endpoint": wire.endpoint_for(prompt, c.endpoint), "namespace": c.namespace,
                    "n_per_request": c.n_per_request and not params.greedy}
        return completion_key(identity, prompt, params.cache_fields(), index)

    def _client(self) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        size = self.config.concurrency
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        timeout = httpx.Timeout(self.config.timeout, connect=min(10.0, self.config.timeout))
        return httpx.AsyncClient(base_url=self.config.base_url.rstrip("/") + "/", headers=headers, timeout=timeout,
                                 limits=limits)

    async def _fill(self, client: httpx.AsyncClient, semaphore: asyncio.Semaphore, prompt: GenPrompt,
                    params: SamplingParams, missing: list[int]) -> list[Completion]:
        """The missing sample indices of one prompt: one request each, or one request for all of them."""
        endpoint = wire.endpoint_for(prompt, self.config.endpoint)
        key = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
        if self.config.n_per_request and len(missing) > 1:
            body = wire.request_body(self.config.model, prompt, params, endpoint, len(missing), params.seed)
            got = await self._request(client, semaphore, body, endpoint, params)
            if len(got) != len(missing):
                got = [Completion.failure(f"server returned {len(got)} choices for n={len(missing)}")] * len(missing)
            return got
        bodies = [wire.request_body(self.config.model, prompt, params, endpoint, 1,
                                    None if params.greedy else sample_seed(params.seed, key, j)) for j in missing]
        done = await asyncio.gather(*(self._request(client, semaphore, b, endpoint, params) for b in bodies))
        return [d[0] for d in done]

    async def _request(self, client: httpx.AsyncClient, semaphore: asyncio.Semaphore, body: dict[str, Any],
                       endpoint: str, params: SamplingParams) -> list[Completion]:
        path = "chat/completions" if endpoint == "chat" else "completions"
        estimate = len(json.dumps(body.get("messages") or body.get("prompt"))) // 4 + body["max_tokens"] * body["n"]
        async with semaphore:
            ticket = await self.limiter.acquire(estimate)
            data, failure = await self._post(client, path, body)
        if failure is not None:
            self.stats.count_failure(failure)
            return [Completion.failure(failure)] * body["n"]
        try:
            completions, usage = wire.parse_response(data, endpoint, params)
        except ValueError as exc:
            self.stats.count_failure(str(exc))
            return [Completion.failure(f"bad response: {exc}")] * body["n"]
        self.limiter.settle(ticket, usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0) or None)
        self._account(completions, usage)
        return completions

    async def _post(self, client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> tuple[Any, str | None]:
        """(parsed JSON, None) or (None, reason); raises `GenerationError` on 401/403/404."""
        last = "no attempt"
        for attempt in range(self.config.retries + 1):
            retry_after = None
            try:
                self.stats.requests += 1
                response = await client.post(path, json=body)
            except httpx.HTTPError as exc:  # connection refused, timeouts, broken streams: transient
                last = f"{type(exc).__name__}: {exc}"[:300]
            else:
                if response.status_code < 400:
                    try:
                        return response.json(), None
                    except ValueError:
                        return None, "response is not JSON"
                message = wire.error_message(response)
                if response.status_code in FATAL_STATUSES:
                    raise GenerationError(f"{self.config.base_url}/{path} answered {response.status_code}: {message}")
                if response.status_code not in RETRY_STATUSES:
                    return None, f"HTTP {response.status_code}: {message}"
                last, retry_after = f"HTTP {response.status_code}: {message}", response.headers.get("retry-after")
            if attempt < self.config.retries:
                self.stats.retries += 1
                await asyncio.sleep(backoff_delay(attempt, self.config.backoff, retry_after))
        return None, f"gave up after {self.config.retries + 1} attempts: {last}"

    def _account(self, completions: list[Completion], usage: dict[str, int]) -> None:
        prompt, generated = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if prompt is not None:
            self.stats.prompt_tokens += prompt
        if generated is not None:
            self.stats.completion_tokens += generated
        for c in completions:
            c.prompt_tokens = prompt
            if len(completions) == 1 and generated is not None:
                c.tokens = generated
            elif c.tokens is None:
                self.stats.unknown_token_counts += 1

    # -- verdicts ----------------------------------------------------------------------------------------
    def verdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                      prefix: str = "") -> list[VerdictProbs]:
        return run_sync(self.averdict_probs(prompts, verdicts, prefix))

    async def averdict_probs(self, prompts: Sequence[GenPrompt], verdicts: Sequence[str],
                             prefix: str = "") -> list[VerdictProbs]:
        """P(verdict) from the server's top-20 log-probabilities at the answer position.

        A string prompt (completions endpoint) gets ``prefix`` appended, so the answer is the first token.
        Chat cannot prefill the assistant's turn, so there the model writes up to 16 tokens greedily and the
        answer position is the one right after it has written ``prefix``. A verdict outside the top 20 gets
        probability 0 (its mass is then a lower bound); the server must return logprobs.
        """
        forced = [p + prefix if isinstance(p, str) else p for p in prompts]
        searching = bool(prefix.strip()) and any(not isinstance(p, str) for p in prompts)
        params = SamplingParams(max_new_tokens=VERDICT_SEARCH_TOKENS if searching else 1, logprobs=True,
                                top_logprobs=20)
        completions = await self.agenerate(forced, params)
        return [verdicts_at_answer(row[0], verdicts, "" if isinstance(p, str) else prefix)
                for row, p in zip(completions, prompts)]


def verdicts_at_answer(completion: Completion, verdicts: Sequence[str], prefix: str) -> VerdictProbs:
    """Sum the top-logprob entries whose stripped text is a verdict, at the first position after ``prefix``."""
    if not completion.ok:
        return VerdictProbs.failure(verdicts, completion.error or "generation failed")
    if not completion.top_logprobs or not completion.token_texts:
        return VerdictProbs.failure(verdicts, "the server returned no top_logprobs")
    position, written, want = 0, "", prefix.strip()
    if want:
        position = -1
        for t, token in enumerate(completion.token_texts):
            written += token
            if written.rstrip().endswith(want):
                position = t + 1
                break
        if position < 0 or position >= len(completion.top_logprobs):
            reason = f"the judge did not write {want!r} within {VERDICT_SEARCH_TOKENS} tokens"
            return VerdictProbs.failure(verdicts, reason)
    top = completion.top_logprobs[position]
    probs = {v: sum(math.exp(lp) for tok, lp in top.items() if tok.strip() == v.strip()) for v in verdicts}
    if sum(probs.values()) <= 0:
        return VerdictProbs(probs, error="no verdict among the top log-probabilities")
    return VerdictProbs(probs)


def _flag(value: str) -> bool:
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def from_spec(argument: str, **overrides: Any) -> OpenAIGenerator:
    return OpenAIGenerator.from_spec(argument, **overrides)

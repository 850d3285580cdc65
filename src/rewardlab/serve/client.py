"""`RemoteReward`: a reward server used as a `Reward`, so ``remote:http://host:port`` works anywhere a
spec does (scoring, evaluation, best-of-N, composites).

Many samples go in one request (``batch_size``), unlike clients that send one HTTP request per sample;
transient failures (connection errors, timeouts, 429/502/503/504) are retried with exponential backoff,
honouring the server's Retry-After; client errors (4xx) fail at once with the server's message. One
instance may be shared by many threads.

Spec: ``remote:URL[,batch_size=64][,timeout=120][,retries=4][,backoff=0.5][,max_in_flight=1]
[,api_key_env=REWARDLAB_API_KEY]``. The API key is read from the environment variable, never from the
spec, because specs are written into reports. Which variables a spec may name is the operator's call, not
the spec's: ``REWARDLAB_API_KEY``, plus the allowlist of `rewardlab.generation.keys` (shared with the
``openai`` generator: ``$REWARDLAB_ALLOWED_KEY_ENVS``, ``allow_key_env(NAME)``, or ``allow_key_envs`` here).
A spec naming any other variable fails to load with ``KeyNotAllowed``, so a spec that came from data
cannot send, say, ``AWS_SECRET_ACCESS_KEY`` to its URL.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from rewardlab.generation.keys import read_key
from rewardlab.rewards.base import parse_options
from rewardlab.types import Sample, Score

RETRY_STATUSES = {429, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0
DEFAULT_KEY_ENV = "REWARDLAB_API_KEY"


class RemoteRewardError(RuntimeError):
    """The server refused the request, or did not answer within the retries; the message says which."""


class RemoteReward:
    """Scores samples by POSTing them to a rewardlab server's ``/v1/score``."""

    def __init__(self, url: str, batch_size: int = 64, timeout: float = 120.0, retries: int = 4,
                 backoff: float = 0.5, max_in_flight: int = 1, api_key: str | None = None):
        if batch_size <= 0 or retries < 0 or backoff < 0 or max_in_flight <= 0 or timeout <= 0:
            raise ValueError("batch_size, max_in_flight and timeout must be positive; retries and backoff "
                             "must not be negative")
        self.url = url.rstrip("/")
        if "://" not in self.url:
            self.url = "http://" + self.url
        self.name = f"remote:{self.url}"
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self.max_in_flight = max_in_flight
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers,
                                  timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)))

    @classmethod
    def from_spec(cls, argument: str, allow_key_envs: Sequence[str] = ()) -> RemoteReward:
        """Build from the text after ``remote:``. ``api_key_env`` may name ``REWARDLAB_API_KEY``, a name in
        ``allow_key_envs`` (the Python caller's), or one on the shared allowlist."""
        url, options = parse_options(argument)
        if not url:
            raise ValueError(f"remote spec {argument!r} has no URL; write remote:http://HOST:PORT")
        known = {"batch_size", "timeout", "retries", "backoff", "max_in_flight", "api_key_env"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown remote option(s) {sorted(unknown)}; known: {sorted(known)}")
        key_env = options.get("api_key_env", DEFAULT_KEY_ENV)
        api_key = read_key(key_env, trusted=key_env == DEFAULT_KEY_ENV or key_env in set(allow_key_envs))
        return cls(url, batch_size=int(options.get("batch_size", 64)),
                   timeout=float(options.get("timeout", 120)), retries=int(options.get("retries", 4)),
                   backoff=float(options.get("backoff", 0.5)),
                   max_in_flight=int(options.get("max_in_flight", 1)), api_key=api_key)

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        chunks = [list(samples[i:i + self.batch_size]) for i in range(0, len(samples), self.batch_size)]
        if self.max_in_flight == 1 or len(chunks) <= 1:
            results = [self._score_chunk(c) for c in chunks]
        else:
            with ThreadPoolExecutor(min(self.max_in_flight, len(chunks))) as pool:
                results = list(pool.map(self._score_chunk, chunks))
        return [score for chunk in results for score in chunk]

    def info(self) -> dict[str, Any]:
        """The server's ``/v1/info``: reward, model provenance, normalization and limits."""
        return self._request("GET", "/v1/info").json()

    def provenance(self) -> dict[str, Any]:
        return {"url": self.url, "server": self.info()}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteReward:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _score_chunk(self, samples: list[Sample]) -> list[Score]:
        payload = {"samples": [sample_to_json(s) for s in samples]}
        body = self._request("POST", "/v1/score", json=payload).json()
        scores = [score_from_json(item) for item in body["scores"]]
        if len(scores) != len(samples):
            raise RemoteRewardError(f"{self.url} returned {len(scores)} scores for {len(samples)} samples")
        return scores

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, timed out: the server may come back
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 400:
                    return response
                last = f"HTTP {response.status_code}: {_message(response)}"
                if response.status_code not in RETRY_STATUSES:
                    raise RemoteRewardError(f"{self.url}{path} refused the request: {last}")
                wait = max(wait, _retry_after(response))
            if attempt < self.retries:
                time.sleep(wait)
        raise RemoteRewardError(f"{self.url}{path} failed after {self.retries + 1} attempts; last: {last}")


def sample_to_json(sample: Sample) -> dict[str, Any]:
    out: dict[str, Any] = {"prompt": sample.prompt, "response": sample.response}
    if sample.steps is not None:
        out["steps"] = list(sample.steps)
    if sample.reference is not None:
        out["reference"] = sample.reference
    return out


def score_from_json(item: dict[str, Any]) -> Score:
    value = item.get("value")
    steps = item.get("steps")
    return Score(
        value=math.nan if value is None else float(value),
        steps=None if steps is None else [math.nan if x is None else float(x) for x in steps],
        components={k: math.nan if v is None else float(v) for k, v in (item.get("components") or {}).items()},
        rationale=item.get("rationale"),
        error=item.get("error") if value is not None else (item.get("error") or "server returned no value"),
    )


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))[:500]
    except ValueError:
        return response.text[:500]


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", 0))))
    except ValueError:
        return 0.0


def from_spec(argument: str) -> RemoteReward:
    """Entry point for the ``remote`` reward family."""
    return RemoteReward.from_spec(argument)

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

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rewardlab.types import Sample, Score

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
    """POST JSON to one server through `rewardlab.serve.client.RemoteReward`'s transport (one retry policy
    for every HTTP reward): transient failures (connection errors, 429/502/503/504) are retried with
    jittered exponential backoff and Retry-After; any other 4xx fails at once with the server's message."""

    def __init__(self, options: ServerOptions):
        from rewardlab.generation.keys import read_key
        from rewardlab.serve.client import RemoteReward

        self.transport = RemoteReward(options.url, timeout=options.timeout, retries=options.retries,
                                      backoff=options.backoff, api_key=read_key(options.api_key_env))
        self.url, self.max_in_flight = self.transport.url, options.max_in_flight

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.transport._request("POST", path, json=body).json()

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``fn`` over ``items`` with up to ``max_in_flight`` requests at once, results in order."""
        if self.max_in_flight == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(min(self.max_in_flight, len(items))) as pool:
            return list(pool.map(fn, items))

    def close(self) -> None:
        self.transport.close()


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


def head_scores(reward: Any, samples: Sequence[Sample], post: Callable[[list[tuple[int, list[int]]]], Any]) -> list[
        Score]:
    """Score samples with a sequence-classification head behind a server, as ``classifier:`` would locally:
    encode with the RM's tokenizer (chat template, truncation policy), send the ids in batches (``post``
    returns one row of raw head outputs per input), read the rows with `rewardlab.rewards.heads.readout`.
    ``reward`` carries ``files``, ``options``, ``client`` and the ``truncated``/``dropped`` counters."""
    import numpy as np

    from rewardlab.engine.encoding import encode_samples
    from rewardlab.rewards.heads import head_spec, readout

    files = reward.files
    encoded = encode_samples(files.tokenizer, samples, files.max_length, reward.options.truncation)
    reward.truncated += encoded.truncated
    reward.dropped += len(encoded.dropped)
    scores: dict[int, Score] = {i: Score.failure(r) for i, r in encoded.dropped.items()}
    batches = chunks(list(zip(encoded.kept, encoded.input_ids)), reward.options.batch_size)
    spec, labels = head_spec(files.config), files.labels
    for batch, rows in zip(batches, reward.client.map(post, batches)):
        if any(len(r) != len(labels) for r in rows):
            raise ValueError(f"{reward.name} returned {len(rows[0])} values per input, but {files.path} has "
                             f"{len(labels)} labels: is the server running that model (as a classifier)?")
        values, components = readout(np.asarray(rows, dtype=np.float64), spec, labels)
        for (i, _), value, comps in zip(batch, values, components):
            scores[i] = Score(value=float(value), components=comps)
    return [scores[i] for i in range(len(samples))]


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def body(model: str | None, **fields: Any) -> dict[str, Any]:
    """A request body; ``model`` is sent only when given (both servers default to the one they serve)."""
    return {**({"model": model} if model else {}), **fields}

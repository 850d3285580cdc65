"""A causal LM that returns per-token response log-probs: loaded lazily, cached on disk when it can be.

Policies, reference models and the strong/weak pair of CDR are all this one thing. Each keeps its own
tokenizer, so two models with different vocabularies can still be compared through sequence-level sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.engine.encoding import TruncationPolicy, model_max_length
from rewardlab.engine.forward import BatchSettings, ForwardStats
from rewardlab.engine.loading import (
    LoadedModel,
    load_tokenizer,
    pick_device,
    pick_dtype,
    resolve_model_path,
    weights_hash,
)
from rewardlab.engine.logprob_cache import LogProbCache, item_key
from rewardlab.engine.logprobs import Tokenized, token_logprobs, tokenize_samples
from rewardlab.types import Sample


def load_causal_lm(name: str, device: str | None = None, dtype: str | None = None) -> LoadedModel:
    """Load any ``AutoModelForCausalLM`` checkpoint (local path or hub id) for inference."""
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(name)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dev, dtype)
    tokenizer = load_tokenizer(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    model.to(dev).eval()
    return LoadedModel(model, tokenizer, path, dev, torch_dtype, weights_hash(path))


@dataclass
class ScoringSettings:
    """How a `CausalScorer` tokenises and batches; one object so the reward passes it through whole."""

    max_length: int | None = None
    truncation: TruncationPolicy = TruncationPolicy.truncate_left
    batch: BatchSettings = field(default_factory=BatchSettings)
    share_prompt: str = "auto"  # auto | true | false
    add_eos: bool = True
    device: str | None = None
    dtype: str | None = None


class CausalScorer:
    """Per-token log-probs of responses under one model; the weights load on the first cache miss."""

    def __init__(self, path: str, settings: ScoringSettings, cache: LogProbCache | None = None):
        self.path = resolve_model_path(path)
        self.settings = settings
        self.tokenizer = load_tokenizer(self.path)
        self.device = pick_device(settings.device)
        self.dtype = pick_dtype(self.device, settings.dtype)
        self.weights_sha256 = weights_hash(self.path)
        # Without a weights hash (a hub id not on disk) a cache entry could outlive the weights it came from.
        self.cache = cache if self.weights_sha256 else None
        self._loaded: LoadedModel | None = None
        self._max_length: int | None = None
        self.stats = ForwardStats()
        self.truncated = 0
        self.dropped = 0

    @property
    def model_id(self) -> str:
        return f"{self.weights_sha256}:{str(self.dtype).replace('torch.', '')}"

    @property
    def loaded(self) -> LoadedModel:
        if self._loaded is None:
            self._loaded = load_causal_lm(self.path, self.settings.device, self.settings.dtype)
        return self._loaded

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def max_length(self) -> int:
        if self.settings.max_length:
            return self.settings.max_length
        if self._max_length is None:
            from transformers import AutoConfig

            self._max_length = model_max_length(self.tokenizer, AutoConfig.from_pretrained(self.path))
        return self._max_length

    def tokenize(self, samples: Sequence[Sample]) -> Tokenized:
        out = tokenize_samples(self.tokenizer, samples, self.max_length(), self.settings.truncation,
                               self.settings.add_eos)
        self.truncated += out.truncated
        self.dropped += len(out.dropped)
        return out

    def logprobs(self, tokenized: Tokenized) -> list[np.ndarray | None]:
        """Per-token log-probs for each tokenised item (None where the item was dropped)."""
        wanted = [i for i, it in enumerate(tokenized.items) if it is not None]
        values: dict[int, np.ndarray] = {}
        keys = {i: item_key(tokenized.items[i]) for i in wanted} if self.cache else {}
        if self.cache:
            found = self.cache.get_many(self.model_id, keys.values())
            values = {i: found[keys[i]] for i in wanted if keys[i] in found}
        missing = [i for i in wanted if i not in values]
        if missing:
            items = [tokenized.items[i] for i in missing]
            loaded = self.loaded
            computed = token_logprobs(loaded.model, items, self.tokenizer.pad_token_id, self.settings.batch,
                                      self._share(items), stats=self.stats)
            values.update(zip(missing, computed))
            if self.cache:
                self.cache.put_many(self.model_id, {keys[i]: values[i] for i in missing})
        return [values.get(i) for i in range(len(tokenized.items))]

    def _share(self, items: Sequence[Any]) -> bool:
        mode = self.settings.share_prompt
        if mode in {"true", "false"}:
            return mode == "true"
        return len({it.prompt_ids for it in items}) < len(items)

"""Trained classifier reward models: any ``AutoModelForSequenceClassification`` checkpoint.

One label is a scalar reward; more labels are a multi-head (multi-attribute) model whose heads are
reported as score components and averaged into ``value``. The embedded default ``classifier:minilm`` is
all-MiniLM-L6-v2 with a fresh 1-label head initialised under a fixed seed: a real forward pass whose
scores mean nothing until it is trained (``rewardlab train bt``).

Spec: ``classifier:PATH_OR_HUB_ID[,max_length=N][,truncation=truncate-left|truncate-right|drop|error]
[,batch_tokens=N][,max_batch_size=N][,device=cpu|cuda][,dtype=float32|bfloat16][,normalize=true]
[,inputs=pair|concat][,backend=torch|onnx][,share_prompt=auto|true|false][,packing=false|true]``.
``inputs=pair`` (default) encodes prompt and response as a text pair for models without a chat template;
``concat`` encodes ``prompt + response`` as one string. ``backend=onnx`` runs the same weights through ONNX
Runtime on the CPU (``pip install 'rewardlab[onnx]'``;
`rewardlab.engine.onnx_backend`), the fastest CPU path measured here. ``share_prompt`` runs the prompt of
samples that share one (a best-of-N group) once, every response continuing from it in one packed row with
a tree mask (`rewardlab.engine.packing`): ``auto`` (default) does so for decoder-only models on the torch backend,
``true`` insists (an error where the model cannot), ``false`` never; scores equal the unshared path's.
``packing=true`` lays the other inputs end to end in padding-free rows too (`rewardlab.engine.packing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.engine.encoding import TruncationPolicy, encode_samples, model_max_length
from rewardlab.engine.forward import BatchSettings, ForwardStats, ProgressFn, classify
from rewardlab.engine.loading import LoadedModel, load_sequence_classifier, quiet_transformers
from rewardlab.engine.packing import classifier_head, classify_packed
from rewardlab.engine.prefix import prompt_key, resolve_share, share_mode, unsupported_reason
from rewardlab.rewards.base import option_flag, parse_options
from rewardlab.rewards.heads import head_spec, readout
from rewardlab.types import Sample, Score


@dataclass
class ClassifierOptions:
    max_length: int | None = None
    truncation: TruncationPolicy = TruncationPolicy.truncate_left
    batch: BatchSettings = field(default_factory=BatchSettings)
    device: str | None = None
    dtype: str | None = None
    normalize: bool = False
    concat: bool = False
    backend: str = "torch"
    share_prompt: str = "auto"
    packing: bool = False

    @classmethod
    def from_dict(cls, options: dict[str, str]) -> ClassifierOptions:
        known = {"max_length", "truncation", "batch_tokens", "max_batch_size", "device", "dtype", "normalize",
                 "inputs", "backend", "share_prompt", "packing"}
        unknown = set(options) - known
        if unknown:
            raise ValueError(f"unknown classifier option(s) {sorted(unknown)}; known: {sorted(known)}")
        batch = BatchSettings(
            batch_tokens=int(options["batch_tokens"]) if "batch_tokens" in options else None,
            max_batch_size=int(options["max_batch_size"]) if "max_batch_size" in options else None,
        )
        return cls(
            max_length=int(options["max_length"]) if "max_length" in options else None,
            truncation=TruncationPolicy(options.get("truncation", "truncate-left")),
            batch=batch,
            device=options.get("device"),
            dtype=options.get("dtype"),
            normalize=option_flag("classifier", "normalize", options.get("normalize", "false")),
            concat=_inputs_mode(options.get("inputs", "pair")),
            backend=_backend(options.get("backend", "torch")),
            share_prompt=share_mode(options.get("share_prompt", "auto"), "classifier"),
            packing=option_flag("classifier", "packing", options.get("packing", "false")),
        )


class ClassifierReward:
    """Scores samples with a sequence-classification model through the batching engine."""

    def __init__(self, model: str | LoadedModel = "minilm", options: ClassifierOptions | None = None):
        quiet_transformers()
        self.options = options or ClassifierOptions()
        self.loaded = model if isinstance(model, LoadedModel) else load_sequence_classifier(
            model, device=self.options.device, dtype=self.options.dtype
        )
        self.name = f"classifier:{model if isinstance(model, str) else self.loaded.path}"
        config = self.loaded.model.config
        self.max_length = self.options.max_length or model_max_length(self.loaded.tokenizer, config)
        self.labels = [config.id2label.get(i, f"label_{i}") for i in range(config.num_labels)]
        if self.options.normalize:
            self._check_normalization()
        self.stats = ForwardStats()
        self.truncated = 0
        self.dropped = 0
        self.progress: ProgressFn | None = None
        self.runner: Any = self.loaded.model
        if self.options.backend == "onnx":
            from rewardlab.engine.onnx_backend import OnnxClassifier

            self.runner = OnnxClassifier(self.loaded.model)
        self.share_prompt = self._resolve_share()
        self.packing = self.options.packing
        if self.packing and (reason := self._pack_reason()):
            raise ValueError(f"{self.name}: packing=true, but {reason}; drop packing=true")

    @classmethod
    def from_spec(cls, argument: str) -> ClassifierReward:
        path, options = parse_options(argument)
        return cls(path or "minilm", ClassifierOptions.from_dict(options))

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        tok = self.loaded.tokenizer
        encoded = encode_samples(tok, samples, self.max_length, self.options.truncation, self.options.concat)
        self.truncated += encoded.truncated
        self.dropped += len(encoded.dropped)
        if (self.share_prompt or self.packing) and not any(map(any, encoded.token_type_ids or [])):
            keys = [prompt_key(samples[i].prompt) for i in encoded.kept] if self.share_prompt else None
            logits = classify_packed(self.runner, encoded.input_ids, keys, tok.pad_token_id, self.options.batch,
                                     self.progress, self.stats, pack_singles=self.packing)
        else:
            logits = classify(
                self.runner, encoded.input_ids, encoded.token_type_ids, tok.pad_token_id,
                self.options.batch, self.progress, self.stats,
            )
        scores: dict[int, Score] = {i: Score.failure(reason) for i, reason in encoded.dropped.items()}
        for row, i in zip(logits, encoded.kept):
            scores[i] = self._to_score(row)
        return [scores[i] for i in range(len(samples))]

    def _resolve_share(self) -> bool:
        """``auto``: share where the model is decoder-only and runs in torch; ``true`` insists."""
        return resolve_share(self.options.share_prompt, self._pack_reason(), self.name)

    def _pack_reason(self) -> str | None:
        """Why rows of this model cannot be packed or share a prompt (None: they can)."""
        reason = unsupported_reason(self.runner)
        if reason is None and classifier_head(self.runner) is None:
            reason = f"{type(self.runner).__name__} has no `score` head over its backbone's hidden states"
        return reason

    def _to_score(self, row: np.ndarray) -> Score:
        """Read the head as training described it (scalar, attributes, ordinal expectation, ensemble)."""
        values, components = readout(row[None], head_spec(self.loaded.model.config), self.labels)
        value = float(values[0])
        if self.options.normalize:
            mean, std = self.normalization()
            value = (value - mean) / std
        return Score(value=value, components=components[0])

    def _check_normalization(self) -> None:
        """``normalize=true`` needs the stored statistics: without them the scores would silently be raw."""
        mean, std = self.normalization()
        if mean is None or std is None:
            raise ValueError(f"{self.name}: normalize=true, but the model config stores no reward_mean/reward_std "
                             "(rewardlab train writes them); drop normalize=true, or serve with --norm-mean and "
                             "--norm-std")
        if not std > 0:
            raise ValueError(f"{self.name}: stored reward_std is {std}; normalize=true needs a positive std")

    def normalization(self) -> tuple[float | None, float | None]:
        """Reward mean/std stored by ``rewardlab train`` in the model config (as OpenRLHF does)."""
        config = self.loaded.model.config
        return getattr(config, "reward_mean", None), getattr(config, "reward_std", None)

    def provenance(self) -> dict[str, Any]:
        tok = self.loaded.tokenizer
        return {
            "model_path": self.loaded.path,
            "weights_sha256": self.loaded.weights_sha256,
            "dtype": str(self.loaded.dtype).replace("torch.", ""),
            "device": str(self.loaded.device),
            "attn_implementation": self.loaded.attn_implementation,
            "backend": "torch" if self.options.backend == "torch" else f"onnxruntime {self.runner.version}",
            "chat_template": bool(getattr(tok, "chat_template", None)),
            "padding_side": "right",
            "inputs": "concat" if self.options.concat else "pair",
            "max_length": self.max_length,
            "truncation": self.options.truncation.value,
            "truncated": self.truncated,
            "dropped": self.dropped,
            "batch_tokens": self.options.batch.resolved(self.loaded.device)[0],
            "max_batch_size": self.options.batch.resolved(self.loaded.device)[1],
            "share_prompt": self.share_prompt,
            "packing": self.packing,
            "shared_prompt_tokens": self.stats.shared_tokens,
        }


def _backend(value: str) -> str:
    if value not in {"torch", "onnx"}:
        raise ValueError(f"classifier option backend={value!r}: use torch or onnx")
    return value


def _inputs_mode(value: str) -> bool:
    if value not in {"pair", "concat"}:
        raise ValueError(f"classifier option inputs={value!r}: use pair or concat")
    return value == "concat"

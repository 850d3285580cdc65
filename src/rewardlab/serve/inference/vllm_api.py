"""``vllm:URL``: a reward model served by vLLM, scored through its pooling API with the right semantics.

- ``task=classify`` (default; scalar and multi-head RMs): ``POST /classify`` with ``use_activation: false``.
  Without it vLLM applies its classifier activation, a sigmoid for one-label models, so a Bradley-Terry
  reward r comes back as sigma(r): monotone, but no longer the reward (differences, normalisation, sums
  in compositions and advantages all change). Logits are read as the local ``classifier:`` family reads
  them (`rewardlab.rewards.heads.readout`: scalar, attributes, ensemble, ordinal).
- ``task=token_classify`` (token-classification PRMs): ``POST /pooling`` with ``task: token_classify`` and
  ``use_activation: false``; the per-token logits are read at the step tags exactly as ``process:`` reads
  a ``kind=token`` PRM (softmax[1] for 2 labels, sigmoid for 1), with the same step layout.

Inputs are token ids rendered with the reward model's own tokenizer and chat template (`common`), so the
server's scores equal the local model's. Spec: ``vllm:URL[,model=NAME][,tokenizer=PATH][,task=..]
[,max_length=N][,truncation=..][,batch_size=64][,max_in_flight=4][,timeout=120][,retries=4]
[,api_key_env=NAME]``, plus for PRMs ``step_tag``, ``prompt_sep``, ``step_sep``, ``template``, ``split``,
``agg`` as in ``process:``. Checked against vLLM's documented schemas with a stand-in server
(`tests/test_inference_backends.py`) and against a real vLLM by ``bench/gpu_checks.sh``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.serve.inference.common import (
    JsonClient,
    RewardModelFiles,
    ServerOptions,
    body,
    chunks,
    head_scores,
)
from rewardlab.types import Sample, Score

TASKS = ("classify", "token_classify")
PRM_KEYS = {"step_tag", "prompt_sep", "step_sep", "template", "plus", "minus", "split", "agg"}


class VLLMReward:
    """A reward model behind a vLLM server (``vllm serve RM --task classify`` or a token-classify PRM)."""

    def __init__(self, options: ServerOptions, task: str = "classify", prm: dict[str, str] | None = None):
        if task not in TASKS:
            raise ValueError(f"vllm: task={task!r}; choose classify (scalar RMs, /classify) or token_classify "
                             "(PRMs, /pooling)")
        self.options, self.task = options, task
        self.files = RewardModelFiles.load(options)
        self.client = JsonClient(options)
        self.name = f"vllm:{self.client.url}"
        self.truncated = self.dropped = 0
        self.prm = _prm_reader(self.files, prm or {}, options.truncation) if task == "token_classify" else None

    @classmethod
    def from_spec(cls, argument: str) -> VLLMReward:
        options, extra = ServerOptions.parse("vllm", argument, {"task", *PRM_KEYS})
        task = extra.pop("task", "classify")
        if extra and task != "token_classify":
            raise ValueError(f"vllm: {sorted(extra)} apply to task=token_classify (PRMs) only")
        return cls(options, task, extra)

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        return self._classify(samples) if self.task == "classify" else self._token_classify(samples)

    def _classify(self, samples: Sequence[Sample]) -> list[Score]:
        return head_scores(self, samples, self._post_classify)

    def _post_classify(self, batch: list[tuple[int, list[int]]]) -> list[list[float]]:
        reply = self.client.post("/classify", body(self.options.model, input=[ids for _, ids in batch],
                                                   use_activation=False))
        return [_logits(item) for item in _in_order(reply, len(batch), "/classify")]

    def _token_classify(self, samples: Sequence[Sample]) -> list[Score]:
        from rewardlab.rewards.process import aggregate

        prm = self.prm
        scores: dict[int, Score] = {}
        runnable: list[tuple[int, list[int], list[int]]] = []
        for i, sample in enumerate(samples):
            encoded = prm.encode(sample)
            if isinstance(encoded, str):
                scores[i] = Score.failure(encoded)
                self.dropped += 1
            else:
                self.truncated += encoded[2]
                runnable.append((i, encoded[0], encoded[1]))
        batches = chunks(runnable, self.options.batch_size)
        for batch, rows in zip(batches, self.client.map(self._post_pooling, batches)):
            for (i, _, reads), row in zip(batch, rows):
                steps = [prm.step_value(row[r]) for r in reads]
                ok = all(map(math.isfinite, steps))
                scores[i] = Score(value=aggregate(steps, prm.agg) if ok else math.nan, steps=steps,
                                  error=None if ok else "non-finite step score")
        return [scores[i] for i in range(len(samples))]

    def _post_pooling(self, batch: list[tuple[int, list[int], list[int]]]) -> list[list[list[float]]]:
        reply = self.client.post("/pooling", body(self.options.model, input=[ids for _, ids, _ in batch],
                                                  task="token_classify", use_activation=False))
        rows = []
        for (_, ids, _), item in zip(batch, _in_order(reply, len(batch), "/pooling")):
            data = item["data"]
            row = [[v] if isinstance(v, (int, float)) else list(v) for v in data]
            if len(row) != len(ids):
                raise ValueError(f"{self.name}/pooling returned {len(row)} token outputs for {len(ids)} tokens")
            rows.append(row)
        return rows

    def provenance(self) -> dict[str, Any]:
        return {"server": "vllm", "url": self.client.url, "model": self.options.model, "task": self.task,
                "tokenizer": self.files.path, "max_length": self.files.max_length,
                "truncation": self.options.truncation, "truncated": self.truncated, "dropped": self.dropped}

    def close(self) -> None:
        self.client.close()


def _in_order(reply: dict[str, Any], expected: int, path: str) -> list[dict[str, Any]]:
    data = sorted(reply.get("data") or [], key=lambda item: item["index"])
    if len(data) != expected:
        raise ValueError(f"{path} returned {len(data)} results for {expected} inputs")
    return data


def _logits(item: dict[str, Any]) -> list[float]:
    """Newer vLLM names raw outputs ``logits``; the documented 0.x schema returns them in ``probs``
    (raw, because we send ``use_activation: false``)."""
    values = item.get("logits")
    return [float(v) for v in (values if isinstance(values, list) else item["probs"])]


class _PrmReader:
    """The ``process:`` step layout and readout of a token PRM, without loading its weights."""

    def __init__(self, files: RewardModelFiles, layout: Any, split: str, agg: str, truncation: str):
        self.files, self.layout, self.split, self.agg, self.truncation = files, layout, split, agg, truncation

    def encode(self, sample: Sample) -> tuple[list[int], list[int], bool] | str:
        from rewardlab.rewards.process import fit_left

        steps = list(sample.steps) if sample.steps is not None else [
            s for s in sample.response.split(self.split) if s.strip()]
        if not steps:
            return "no steps to score (empty response)"
        ids, reads = self.layout.encode(self.files.tokenizer, sample.prompt, steps)
        limit = self.files.max_length
        if len(ids) <= limit:
            return ids, reads, False
        if self.truncation == "error":
            raise ValueError(f"{sample.metadata.get('source') or 'sample'}: {len(ids)} tokens > max_length {limit}")
        fitted = fit_left(ids, reads, limit, self.files.tokenizer, self.layout) if (
            self.truncation == "truncate-left") else None
        if fitted is None:
            return f"dropped: {len(ids)} tokens > max_length {limit}"
        return fitted[0], fitted[1], True

    @staticmethod
    def step_value(logits: list[float]) -> float:
        if len(logits) == 1:
            return 1.0 / (1.0 + math.exp(-logits[0]))
        shifted = np.asarray(logits, dtype=np.float64) - max(logits)
        probs = np.exp(shifted) / np.exp(shifted).sum()
        return float(probs[1])


def _prm_reader(files: RewardModelFiles, options: dict[str, str], truncation: str) -> _PrmReader:
    from rewardlab.rewards.process import AGGREGATIONS, CONFIG_KEY, StepLayout, unescape

    recorded = getattr(files.config, CONFIG_KEY, None) or {}
    if recorded.get("kind", "token") != "token":
        raise ValueError(f"vllm: {files.path} is a kind={recorded['kind']} PRM; task=token_classify reads "
                         "token-classification PRMs only")
    chosen = {k: v for k, v in recorded.items() if k in StepLayout.KEYS}
    chosen.update({k: unescape(v) for k, v in options.items() if k in StepLayout.KEYS})
    agg = options.get("agg", "min")
    if agg not in AGGREGATIONS:
        raise ValueError(f"vllm: agg={agg!r}; choose one of {', '.join(AGGREGATIONS)}")
    if truncation not in ("truncate-left", "drop", "error"):
        raise ValueError(f"vllm: truncation={truncation!r} for a PRM; use truncate-left, drop or error")
    layout = StepLayout(**chosen).resolved(files.tokenizer)
    return _PrmReader(files, layout, unescape(options.get("split", "\\n\\n")), agg, truncation)


def from_spec(argument: str) -> VLLMReward:
    """Entry point for the ``vllm`` reward family."""
    return VLLMReward.from_spec(argument)

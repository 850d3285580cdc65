"""ONNX Runtime backend for sequence classifiers on CPU (``classifier:PATH,backend=onnx``).

Why: on a CPU, eager torch leaves a fifth of the matmul ceiling unused on small encoders (framework
overhead between many small kernels); ONNX Runtime's fused graph is the measured route past 85% of it
(PEERS.md: 87% for MiniLM, eager SDPA 82%; docs/benchmarks.md for this repo's own run). The model is
exported once per load from the already-loaded torch model (the same weights, the same fresh-head seed),
into a temporary folder that lives as long as the reward, so nothing stale is ever cached on disk. Scores
match eager torch to ~1e-6 (tested). CUDA users keep the torch path: this backend is CPU-only by design.
"""

from __future__ import annotations

import inspect
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch


def require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise RuntimeError("backend=onnx needs onnxruntime and onnx: pip install 'rewardlab[onnx]'") from exc
    return onnxruntime


class OnnxClassifier:
    """Callable like a transformers sequence classifier (``model(input_ids=, attention_mask=).logits``),
    running an ONNX Runtime session exported from ``model``."""

    device = torch.device("cpu")

    def __init__(self, model: torch.nn.Module, threads: int | None = None, opset: int = 17):
        ort = require_onnxruntime()
        if next(model.parameters()).device.type != "cpu" or next(model.parameters()).dtype != torch.float32:
            raise ValueError("backend=onnx runs fp32 models on the CPU; drop device=/dtype= or use backend=torch")
        self.config = model.config
        self._folder = tempfile.TemporaryDirectory(prefix="rewardlab-onnx-")
        path = Path(self._folder.name) / "model.onnx"
        self.input_names = export(model, path, opset)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.version = ort.__version__

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 token_type_ids: torch.Tensor | None = None) -> SimpleNamespace:
        feeds = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy()}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = (token_type_ids.numpy() if token_type_ids is not None
                                       else np.zeros_like(feeds["input_ids"]))
        (logits,) = self.session.run(["logits"], feeds)
        return SimpleNamespace(logits=torch.from_numpy(logits))


class _LogitsOnly(torch.nn.Module):
    """Keyword inputs in, logits out: no KV cache (decoders), no positional-argument mix-ups."""

    def __init__(self, model: torch.nn.Module, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        kwargs: dict[str, Any] = dict(zip(self.names, inputs))
        if getattr(self.model.config, "use_cache", None) is not None:
            kwargs["use_cache"] = False
        return self.model(**kwargs, return_dict=True).logits


def export(model: torch.nn.Module, path: Path, opset: int = 17) -> list[str]:
    """Export ``model`` with dynamic batch and sequence axes; returns the graph's input names.

    Eager attention is exported (a plain softmax graph ONNX Runtime fuses), then the model's own attention
    implementation is restored so the torch model the reward holds is unchanged.
    """
    accepts_types = "token_type_ids" in inspect.signature(model.forward).parameters and getattr(
        model.config, "type_vocab_size", 0) > 0
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if accepts_types else [])
    example = torch.ones((2, 8), dtype=torch.long)
    args = tuple(example.clone() for _ in names)
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["logits"] = {0: "batch"}
    previous = getattr(model.config, "_attn_implementation", None)
    switch = hasattr(model, "set_attn_implementation") and previous not in (None, "eager")
    if switch:
        model.set_attn_implementation("eager")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer advisories about constants: the graph is checked by tests
            torch.onnx.export(_LogitsOnly(model, names), args, str(path), input_names=names, output_names=["logits"],
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
    finally:
        if switch:
            model.set_attn_implementation(previous)
    return names

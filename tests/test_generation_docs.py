"""The example in docs/generation.md runs, locally and against llama.cpp's server."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _example():
    spec = importlib.util.spec_from_file_location("generation_example", REPO / "examples" / "generation_backends.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_with_both_backends(tmp_path, llama_server):
    out = _example().main(tmp_path, llama_server.spec(), llama_server.api_key)
    assert len(out["hf_samples"]) == 4 and 4 <= out["hf_tokens"] <= 4 * 8
    assert sum(out["hf_verdicts"].values()) == pytest.approx(1.0)
    assert len(out["openai_texts"]) == 2 and out["openai_cached"] == [True, True] and out["openai_requests"] == 2


def test_docs_name_every_backend_option():
    text = (REPO / "docs" / "generation.md").read_text()
    from rewardlab.generation.openai_api import OpenAIConfig

    for option in set(OpenAIConfig.__dataclass_fields__) - {"model"}:
        assert f"`{option}" in text, option
    for option in ("device", "dtype", "max_batch_size", "batch_tokens", "max_length"):
        assert f"`{option}" in text, option

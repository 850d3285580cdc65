"""Shared fixtures: where the real benchmark data lives, and tiny real models built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from strict_skips import (  # noqa: F401 -- the CI strict-mode hooks, and where the real data lives
    pytest_make_collect_report,
    pytest_runtest_makereport,
    shared_data_root,
)


@pytest.fixture(scope="session")
def data_root() -> Path:
    return shared_data_root()


@pytest.fixture
def shared_file(data_root):
    """Return a file under the shared data folder, or skip the test saying what is missing."""

    def get(relative: str) -> Path:
        path = data_root / relative
        if not path.exists():
            pytest.skip(f"real data not present: {path} (set REWARDLAB_DATA to the shared/data folder)")
        return path

    return get


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    from rewardlab.testing import tiny_bert_classifier

    return tiny_bert_classifier(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="session")
def tiny_llama_rm_dir(tmp_path_factory) -> Path:
    from rewardlab.testing import tiny_llama

    return tiny_llama(tmp_path_factory.mktemp("tiny_llama_rm"), classifier=True)


@pytest.fixture(scope="session")
def minilm_reward():
    from rewardlab import load_reward

    return load_reward("classifier:minilm")


def _llama_server(logits_all: bool):
    from rewardlab.generation.llama_server import LlamaServer, gemma_gguf, llama_cpp_available

    if not llama_cpp_available():
        pytest.skip("llama_cpp is not importable: pip install 'llama-cpp-python[server]' (rewardlab[judge-test])")
    return LlamaServer(gemma_gguf(), n_ctx=2048, logits_all=logits_all).start()


@pytest.fixture(scope="session")
def llama_server():
    """llama.cpp's OpenAI-compatible server serving the Gemma 3 270M GGUF on a free loopback port, started
    once per session (with an API key, so auth is real) and stopped at the end. Without logprobs: with
    them llama-cpp-python computes every prompt position's full-vocabulary logits, which is slow."""
    server = _llama_server(logits_all=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llama_logprob_server():
    """The same server started with ``--logits_all true``, for the tests that read logprobs."""
    server = _llama_server(logits_all=True)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bwrap_sandbox() -> None:
    """Skip, saying why and how to fix it, where rule:code's bubblewrap sandbox cannot run (CI has it)."""
    from rewardlab.rewards.rules.sandbox import bwrap_problem

    problem = bwrap_problem()
    if problem is not None:
        pytest.skip(f"rule:code needs its OS sandbox: {problem}")

"""The issue's "done when": ``rewardlab eval --reward judge:...`` runs llmbar, judgebench, rm-bench and
master-keys end to end from the command line, through the ``hf`` backend (a tiny Llama built from a config)
and through llama.cpp's OpenAI-compatible server (Gemma 3 270M), one record each, real files."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

BENCHES = ("llmbar", "judgebench", "rm-bench", "master-keys")
FILES = ("LLMBar/Dataset", "JudgeBench/data", "RM-Bench/data", "math-500/test.jsonl",
         "grade-school-math/grade_school_math/data/test.jsonl")


@pytest.fixture(scope="module")
def long_context_judge(tmp_path_factory):
    from rewardlab.testing import tiny_llama

    # the tiny tokenizer spends about a token per character: RM-Bench's 9 judged pairs need ~4.5k positions
    return tiny_llama(tmp_path_factory.mktemp("judge"), chat_template=True, max_positions=8192)


def eval_cli(spec, out, data_root, env=None, allow_key_env=None):
    allow = ["--allow-key-env", allow_key_env] if allow_key_env else []
    benches = [a for b in BENCHES for a in ("--bench", b)]
    cmd = [sys.executable, "-m", "rewardlab.cli", *allow, "eval", "--reward", spec, *benches,
           "--limit", "1", "--bootstrap", "50", "--data-root", str(data_root), "--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "report.html").exists() and "master-keys" in (out / "report.html").read_text()
    return json.loads((out / "results.json").read_text())


def check_blocks(results, backend):
    assert results["reward"]["backend"]["backend"] == backend
    blocks = results["benchmarks"]
    assert list(blocks) == list(BENCHES) and all(blocks[b]["records"] == 1 for b in BENCHES)
    assert blocks["llmbar"]["metrics"]["judge_counting"]["rule"] == "both_mean"
    assert blocks["judgebench"]["metrics"]["judge_counting"]["rule"] == "both_vote_sum"
    assert blocks["llmbar"]["metrics"]["judge_counting"]["orders_judged"] == 2
    assert blocks["rm-bench"]["metrics"]["primary"]["name"] == "RM-Bench average (judged pairs)"
    keys = blocks["master-keys"]["metrics"]
    assert keys["acceptance"]["rule"] == "preferred" and len(keys["keys"]) == 10
    assert blocks["master-keys"]["scoring"]["pairs_judged"] == 10
    for name in BENCHES:  # every record is scored or a counted failure with its reason
        failures = blocks[name]["metrics"]["failures"]
        assert failures["failed"] == 0 or sum(failures["reasons"].values()) >= 1
    return blocks


def test_the_four_benches_through_the_hf_backend(long_context_judge, data_root, shared_file, tmp_path):
    for relative in FILES:
        shared_file(relative)
    spec = f"judge:hf:{long_context_judge},protocol=pairwise,mode=logprob"
    blocks = check_blocks(eval_cli(spec, tmp_path / "out", data_root), "hf")
    # logprob mode always gives a verdict distribution: nothing fails, every number is there
    for name in BENCHES:
        primary = blocks[name]["metrics"]["primary"]
        assert primary["failed"] == 0 and 0.0 <= primary["value"] <= 1.0, (name, primary)
    assert all(k["scored"] == 1 for k in blocks["master-keys"]["metrics"]["keys"])
    assert not math.isnan(blocks["rm-bench"]["metrics"]["difficulty"]["hard"])


def test_the_four_benches_through_llama_cpp(llama_server, data_root, shared_file, tmp_path):
    for relative in FILES:
        shared_file(relative)
    spec = f"judge:openai:{llama_server.spec(api_key_env='JUDGE_BENCH_KEY', cache=tmp_path / 'c.sqlite')},max_tokens=8"
    results = eval_cli(spec, tmp_path / "out", data_root, env={"JUDGE_BENCH_KEY": llama_server.api_key},
                       allow_key_env="JUDGE_BENCH_KEY")
    blocks = check_blocks(results, "openai")
    generation = results["reward"]["generation"]  # the server answered: counted failures alone prove nothing
    assert generation["completion_tokens"] > 0 and not any("Connect" in r or "disconnected" in r
                                                           for r in generation["by_reason"]), (
        generation, "server exit code", llama_server.process and llama_server.process.poll())
    assert blocks["master-keys"]["scoring"]["sequences"] == 10
    assert llama_server.api_key not in json.dumps(results)

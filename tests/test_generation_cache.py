"""The completion cache: what a key depends on, and that concurrent writer processes lose nothing."""

from __future__ import annotations

import subprocess
import sys

from rewardlab.generation import Completion, SamplingParams
from rewardlab.generation.cache import GenerationCache, completion_key

ID = {"model": "m", "endpoint": "chat", "namespace": ""}


def test_key_depends_on_what_the_completion_depends_on():
    greedy, sampled = SamplingParams(max_new_tokens=8), SamplingParams(temperature=1.0, max_new_tokens=8, seed=1)
    k = completion_key(ID, "p", greedy.cache_fields(), 0)
    assert k == completion_key(ID, "p", greedy.with_(n=5, seed=9).cache_fields(), 3)  # greedy: index, n, seed moot
    assert k != completion_key(ID, "p", greedy.with_(max_new_tokens=9).cache_fields(), 0)
    assert k != completion_key({**ID, "model": "other"}, "p", greedy.cache_fields(), 0)
    assert k != completion_key(ID, [{"role": "user", "content": "p"}], greedy.cache_fields(), 0)
    s0 = completion_key(ID, "p", sampled.cache_fields(), 0)
    assert s0 != completion_key(ID, "p", sampled.cache_fields(), 1)
    assert s0 != completion_key(ID, "p", sampled.with_(seed=2).cache_fields(), 0)
    assert s0 == completion_key(ID, "p", sampled.with_(n=4).cache_fields(), 0)


def test_round_trip_and_failures_are_not_cached(tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    good = Completion("text", 3, "stop", prompt_tokens=5, logprobs=[-0.5, -1.0, -0.1], token_texts=["t", "e", "x"])
    cache.put_many({"a": good, "b": Completion.failure("HTTP 500")})
    found = cache.get_many(["a", "b", "c"])
    assert set(found) == {"a"} and found["a"].cached and found["a"].text == "text"
    assert found["a"].logprobs == [-0.5, -1.0, -0.1] and found["a"].prompt_tokens == 5
    assert cache.hits == 1 and cache.misses == 2


WRITER = """
import sys
from rewardlab.generation import Completion
from rewardlab.generation.cache import GenerationCache
cache = GenerationCache(sys.argv[1], timeout=60)
tag = sys.argv[2]
for i in range(0, 200, 4):
    cache.put_many({f"{tag}-{j}": Completion(f"{tag}{j}", 1, "stop") for j in range(i, i + 4)})
    cache.put_many({f"shared-{i}": Completion("same", 1, "stop")})
"""


def test_concurrent_writer_processes_lose_no_entry(tmp_path):
    path = tmp_path / "shared.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag]) for tag in ("x", "y", "z")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    cache = GenerationCache(path)
    assert cache.count() == 3 * 200 + 50
    found = cache.get_many([f"y-{j}" for j in range(200)])
    assert len(found) == 200 and found["y-17"].text == "y17"

"""The on-disk reference log-prob cache: hits skip loading the reference, keys follow weights and tokens,
and several processes writing one cache file at once lose nothing and corrupt nothing."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

from rewardlab import load_reward
from rewardlab.engine.logprob_cache import LogProbCache, item_key
from rewardlab.engine.logprobs import TokenizedSample
from rewardlab.types import Sample


def _item(k: int) -> TokenizedSample:
    return TokenizedSample((1, 2, k), tuple(range(3, 3 + k % 5 + 1)), "x", ((0, 1),) * (k % 5 + 1))


def _values(k: int) -> np.ndarray:
    return -np.arange(1, k % 5 + 2, dtype=np.float64) / (k + 1)


def _writer(path: str, start: int, stop: int) -> None:
    cache = LogProbCache(path)
    for k in range(start, stop, 10):  # many small transactions, interleaving with the other writers
        cache.put_many("model-a", {item_key(_item(j)): _values(j) for j in range(k, min(k + 10, stop))})


def test_keys_follow_tokens_not_text_identity():
    a = TokenizedSample((1, 5), (6, 2), "hi", ((0, 2), (2, 2)))
    assert item_key(a) == item_key(TokenizedSample((1, 5), (6, 2), "other", ((0, 1), (1, 1))))
    assert item_key(a) != item_key(TokenizedSample((1,), (5, 6, 2), "hi", ((0, 2),) * 3))  # boundary moved


def test_round_trip_and_model_separation(tmp_path):
    cache = LogProbCache(tmp_path / "c.sqlite")
    cache.put_many("m1", {"k": np.array([-0.5, -1.25])})
    assert cache.get_many("m1", ["k", "absent"])["k"].tolist() == [-0.5, -1.25]
    assert cache.get_many("m2", ["k"]) == {}
    assert (cache.hits, cache.misses) == (1, 2)


def test_concurrent_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "shared.sqlite")
    ctx = mp.get_context("fork")  # writers use only sqlite and numpy
    # overlapping ranges: the same key written by two processes must end up once, intact
    procs = [ctx.Process(target=_writer, args=(path, start, start + 300)) for start in (0, 100, 200, 300)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    cache = LogProbCache(path)
    assert cache.count("model-a") == 600
    found = cache.get_many("model-a", [item_key(_item(j)) for j in range(600)])
    for j in range(600):
        assert found[item_key(_item(j))] == pytest.approx(_values(j), rel=1e-6)


def test_warm_cache_skips_the_reference_model(tmp_path):
    from rewardlab.testing import tiny_llama

    policy, ref = tiny_llama(tmp_path / "p", seed=1), tiny_llama(tmp_path / "r", seed=2)
    samples = [Sample("what is 2 + 2 ?", f" {k}") for k in range(4)]
    spec = f"implicit:policy={policy},ref={ref},cache={tmp_path / 'c.sqlite'}"
    cold = load_reward(spec)
    first = cold.score(samples)
    assert cold.provenance()["reference"]["cache_misses"] == 4
    warm = load_reward(spec)
    second = warm.score(samples)
    ref_info = warm.provenance()["reference"]
    assert ref_info["loaded"] is False and ref_info["cache_hits"] == 4
    assert [s.value for s in second] == pytest.approx([s.value for s in first], abs=1e-6)
    # new reference weights -> new key: nothing stale is served
    tiny_llama(tmp_path / "r", seed=3)
    changed = load_reward(spec)
    changed.score(samples)
    assert changed.provenance()["reference"]["cache_misses"] == 4

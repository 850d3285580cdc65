"""Dynamic batching under concurrency: every client gets exactly its own scores, concurrent requests share
model calls, a full queue answers 503, a slow answer 504, and one failing request never fails others."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardlab import Sample, Score, load_reward
from rewardlab.serve import RemoteReward, ServeConfig, ServerThread, create_app


@pytest.fixture(scope="module")
def reward(tiny_bert_dir):
    return load_reward(f"classifier:{tiny_bert_dir}")


def metric(url: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def thread_samples(t: int) -> list[Sample]:
    """Distinct samples per thread, of different lengths so batches mix lengths."""
    return [Sample(f"thread {t} asks question {k}", "answer " * (1 + (t * 7 + k) % 23) + str(t))
            for k in range(4)]


def test_concurrent_clients_each_get_their_own_offline_scores(reward):
    threads = 8
    offline = {t: [s.value for s in reward.score(thread_samples(t))] for t in range(threads)}
    with ServerThread(create_app(reward)) as server:
        shared = RemoteReward(server.url, batch_size=2)  # one client object shared by every thread

        def work(t: int) -> tuple[int, list[float], list[float]]:
            samples = thread_samples(t)
            via_client = [s.value for s in shared.score(samples)]
            via_openrlhf = []
            for s in samples:  # OpenRLHF style: one request per sample
                body = {"query": [s.prompt + s.response], "prompts": [s.prompt], "labels": [None]}
                via_openrlhf += httpx.post(server.url + "/get_reward", json=body, timeout=30).json()["rewards"]
            return t, via_client, via_openrlhf

        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(work, range(threads)))
        shared.close()
        # /get_reward renders "prompt + response" then splits on the prompt: same sample, same score
        for t, via_client, via_openrlhf in results:
            assert via_client == pytest.approx(offline[t], abs=1e-5)
            assert via_openrlhf == pytest.approx(offline[t], abs=1e-5)
        assert metric(server.url, "rewardlab_samples_total") == threads * 4 * 2


def test_concurrent_requests_are_coalesced_into_one_model_call(reward):
    """8 single-sample requests arrive together; the batch closes when full (8), not on the 30 s delay."""
    config = ServeConfig(max_batch_samples=8, max_queue_delay_ms=30_000)
    samples = [Sample("q", "r" * (i + 1)) for i in range(8)]
    offline = [s.value for s in reward.score(samples)]
    with ServerThread(create_app(reward, config)) as server:
        barrier = threading.Barrier(8)

        def one(i: int) -> float:
            barrier.wait()
            body = {"samples": [{"prompt": "q", "response": "r" * (i + 1)}]}
            return httpx.post(server.url + "/v1/score", json=body, timeout=60).json()["scores"][0]["value"]

        with ThreadPoolExecutor(8) as pool:
            values = list(pool.map(one, range(8)))
        assert values == pytest.approx(offline, abs=1e-5)
        assert metric(server.url, "rewardlab_batch_requests_count") == 1
        assert metric(server.url, "rewardlab_batch_requests_sum") == 8


def test_full_queue_answers_503_with_retry_after(reward):
    config = ServeConfig(max_queue_samples=4, max_samples_per_request=2, max_queue_delay_ms=1500,
                         retry_after_s=3)
    body = {"samples": [{"response": "a"}, {"response": "b"}]}
    with ServerThread(create_app(reward, config)) as server, ThreadPoolExecutor(2) as pool:
        waiting = [pool.submit(httpx.post, server.url + "/v1/score", json=body, timeout=30) for _ in range(2)]
        wait_for(lambda: metric(server.url, "rewardlab_queue_samples") == 4)
        refused = httpx.post(server.url + "/v1/score", json=body)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "3"
        assert "queue full" in refused.json()["message"]
        assert [f.result().status_code for f in waiting] == [200, 200]  # queued work still completes
        assert metric(server.url, "rewardlab_errors_total", kind="queue_full") == 1


def test_request_timeout_answers_504_and_skips_the_abandoned_work(reward):
    config = ServeConfig(request_timeout_s=0.2, max_queue_delay_ms=1000)
    with ServerThread(create_app(reward, config)) as server:
        response = httpx.post(server.url + "/v1/score", json={"samples": [{"response": "slow"}]})
        assert response.status_code == 504 and "no scores within 0.2 s" in response.json()["message"]
        wait_for(lambda: metric(server.url, "rewardlab_queue_samples") == 0)
        assert metric(server.url, "rewardlab_samples_total") == 0  # the abandoned sample never ran
        assert metric(server.url, "rewardlab_errors_total", kind="timeout") == 1


class FailingReward:
    """A deliberately failing reward (named as such): no real reward fails on demand.

    ``boom`` raises an internal error whose message must stay in the server log; ``invalid`` raises a
    ValueError, which the server treats as the client's fault (422); ``inf`` scores infinity, which JSON
    cannot carry. Anything else scores its length.
    """

    name = "failing-for-tests"

    def score(self, samples: Sequence[Sample]) -> list[Score]:
        for s in samples:
            if s.response == "boom":
                raise RuntimeError("secret internal detail at /srv/model.py")
            if s.response == "invalid":
                raise ValueError("response 'invalid' is not acceptable")
        return [Score(float("inf") if s.response == "inf" else float(len(s.response))) for s in samples]


def test_a_failing_request_does_not_fail_the_requests_batched_with_it():
    config = ServeConfig(max_batch_samples=3, max_queue_delay_ms=30_000)
    with ServerThread(create_app(FailingReward(), config)) as server:
        barrier = threading.Barrier(3)

        def post(response: str) -> httpx.Response:
            barrier.wait()
            return httpx.post(server.url + "/v1/score", json={"samples": [{"response": response}]}, timeout=60)

        with ThreadPoolExecutor(3) as pool:
            good, boom, invalid = pool.map(post, ["fine", "boom", "invalid"])
        assert good.status_code == 200 and good.json()["scores"][0]["value"] == 4.0
        assert boom.status_code == 500
        assert "secret" not in boom.text and "Traceback" not in boom.text and "/srv" not in boom.text
        assert "details are in the server log" in boom.json()["message"]
        assert invalid.status_code == 422 and "not acceptable" in invalid.json()["message"]
        # one model call with all three, then each alone to find the culprit: 4 calls, 3 + 1 + 1 + 1 requests
        assert metric(server.url, "rewardlab_batch_requests_count") == 4
        assert metric(server.url, "rewardlab_batch_requests_sum") == 6


def test_non_finite_values_become_reasons_not_invalid_json():
    with ServerThread(create_app(FailingReward())) as server:
        scored = httpx.post(server.url + "/v1/score", json={"samples": [{"response": "inf"}, {"response": "ok"}]})
        assert scored.status_code == 200
        first, second = scored.json()["scores"]
        assert first["value"] is None and "non-finite" in first["error"] and second["value"] == 2.0
        openrlhf = httpx.post(server.url + "/get_reward", json={"query": ["inf"]})
        assert openrlhf.status_code == 422 and "query 0: non-finite value inf" in openrlhf.json()["message"]

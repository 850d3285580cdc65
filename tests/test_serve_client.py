"""The client: ``remote:URL`` is a Reward like any other, batches many samples per request, retries
transient failures with backoff, fails fast and clearly on client errors, and times out."""

from __future__ import annotations

import importlib.util
import socket
import threading
import time

import httpx
import pytest

from rewardlab import Reward, Sample, Score, load_reward
from rewardlab.serve import RemoteReward, RemoteRewardError, ServeConfig, ServerThread, create_app

SAMPLES = [Sample(f"question {i}", "answer " * (i % 5 + 1)) for i in range(9)] + [
    Sample([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "hello",
           steps=("first", "second"), reference="gold"),
]


class LengthReward:
    """A real, trivial reward (response length) for tests about transport rather than models."""

    name = "length"

    def score(self, samples):
        return [Score(float(len(s.response))) for s in samples]


@pytest.fixture(scope="module")
def tiny(tiny_bert_dir):
    return load_reward(f"classifier:{tiny_bert_dir}")


def requests_seen(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('rewardlab_requests_total{endpoint="/v1/score"'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("in_flight", [1, 3])
def test_remote_spec_is_a_reward_equal_to_offline(tiny, in_flight):
    offline = [s.value for s in tiny.score(SAMPLES)]
    with ServerThread(create_app(tiny)) as server:
        remote = load_reward(f"remote:{server.url},batch_size=3,max_in_flight={in_flight}")
        assert isinstance(remote, Reward) and isinstance(remote, RemoteReward)
        assert remote.name == f"remote:{server.url}"
        assert [s.value for s in remote.score(SAMPLES)] == pytest.approx(offline, abs=1e-5)
        assert requests_seen(server.url) == 4  # 10 samples in batches of 3
        assert remote.provenance()["server"]["reward"] == tiny.name
        remote.close()


@pytest.mark.skipif(importlib.util.find_spec("rewardlab.rewards.rules") is None, reason="rule rewards absent")
def test_rule_reward_served_keeps_components_rationale_and_labels():
    rule = load_reward("rule:math")
    samples = [Sample("2+2?", "The answer is 4", reference="4"), Sample("2+2?", "The answer is 5", reference="4")]
    offline = rule.score(samples)
    with ServerThread(create_app(rule)) as server, RemoteReward(server.url) as remote:
        served = remote.score(samples)
        assert [s.value for s in served] == [s.value for s in offline]
        assert [s.components for s in served] == [s.components for s in offline]
        assert [s.rationale for s in served] == [s.rationale for s in offline]
        # OpenRLHF's labels are the gold answers rules read
        body = {"query": ["2+2? The answer is 4", "2+2? The answer is 5"], "prompts": ["2+2?"] * 2,
                "labels": ["4", "4"]}
        payload = httpx.post(server.url + "/get_reward", json=body).json()
        assert payload["rewards"] == [s.value for s in offline]
        assert set(payload["extra_logs"]) == set(offline[0].components)


def test_retries_until_the_server_comes_up():
    port = free_port()
    result: dict = {}

    def client() -> None:
        with RemoteReward(f"http://127.0.0.1:{port}", retries=8, backoff=0.1) as remote:
            result["scores"] = remote.score([Sample("p", "four")])

    thread = threading.Thread(target=client)
    thread.start()
    time.sleep(0.3)  # the first attempts are refused: nothing listens yet
    with ServerThread(create_app(LengthReward()), port=port):
        thread.join(timeout=30)
    assert result["scores"][0].value == 4.0


def test_503_is_retried_after_retry_after():
    config = ServeConfig(max_queue_samples=2, max_samples_per_request=2, max_queue_delay_ms=800, retry_after_s=1)
    with ServerThread(create_app(LengthReward(), config)) as server:
        filler = threading.Thread(target=httpx.post, args=(server.url + "/v1/score",),
                                  kwargs={"json": {"samples": [{"response": "a"}, {"response": "b"}]},
                                          "timeout": 30})
        filler.start()
        deadline = time.monotonic() + 10
        while "rewardlab_queue_samples 2.0" not in httpx.get(server.url + "/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with RemoteReward(server.url, retries=5, backoff=0.05) as remote:
            assert remote.score([Sample("p", "xyz")])[0].value == 3.0
        filler.join()
        assert 'rewardlab_errors_total{kind="queue_full"}' in httpx.get(server.url + "/metrics").text


def test_client_errors_fail_at_once_with_the_server_message():
    config = ServeConfig(max_samples_per_request=2)
    with ServerThread(create_app(LengthReward(), config)) as server:
        with RemoteReward(server.url, batch_size=5, retries=4) as remote, \
                pytest.raises(RemoteRewardError, match="HTTP 422: .*at most 2 items"):
            remote.score(SAMPLES[:5])
        assert requests_seen(server.url) == 1  # not retried


def test_timeout_then_clear_error():
    config = ServeConfig(max_queue_delay_ms=1200)
    with ServerThread(create_app(LengthReward(), config)) as server, \
            RemoteReward(server.url, timeout=0.2, retries=1, backoff=0.01) as remote, \
            pytest.raises(RemoteRewardError, match="failed after 2 attempts; last: ReadTimeout"):
        remote.score([Sample("p", "r")])


def test_api_key_comes_from_the_environment(monkeypatch):
    with ServerThread(create_app(LengthReward(), ServeConfig(api_key="k3y"))) as server:
        monkeypatch.setenv("MY_KEY", "k3y")
        monkeypatch.setenv("REWARDLAB_ALLOWED_KEY_ENVS", "OTHER, MY_KEY")  # the operator allows the name
        remote = load_reward(f"remote:{server.url},api_key_env=MY_KEY")
        assert remote.score([Sample("p", "ab")])[0].value == 2.0
        monkeypatch.delenv("REWARDLAB_API_KEY", raising=False)
        with pytest.raises(RemoteRewardError, match="HTTP 401"):
            load_reward(f"remote:{server.url}").score([Sample("p", "ab")])


def test_spec_errors_are_clear():
    with pytest.raises(ValueError, match="unknown remote option"):
        load_reward("remote:http://127.0.0.1:1,batchsize=3")
    with pytest.raises(ValueError, match="has no URL"):
        load_reward("remote:batch_size=3")
    assert RemoteReward("127.0.0.1:9").url == "http://127.0.0.1:9"


def test_docs_example_runs(tiny, capsys):
    """The Python example in docs/serving.md, run as written against a live server."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text()
    section = doc.split("## The Python client", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "remote:http://127.0.0.1:8000" in example
    with ServerThread(create_app(tiny)) as server:
        exec(compile(example.replace("http://127.0.0.1:8000", server.url), "docs/serving.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    offline = [s.value for s in tiny.score([Sample("What is 2+2?", "4"), Sample("What is 2+2?", "5")])]
    assert [float(x) for x in printed.strip("[]").split(",")] == pytest.approx(offline, abs=1e-4)

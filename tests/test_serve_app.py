"""The reward server's endpoints against a real uvicorn server on loopback, with a tiny real BERT reward.

Every score the server returns is compared with scoring the same samples offline (no server).
"""

from __future__ import annotations

import math

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardlab import Sample, load_reward
from rewardlab.serve import Normalization, ServeConfig, ServerThread, create_app
from rewardlab.serve.schemas import query_to_sample

SAMPLES = [
    Sample("What is 2+2?", "4"),
    Sample("What is 2+2?", "It is five, obviously."),
    Sample([{"role": "user", "content": "how do I bake bread?"}], "mix flour, water, yeast and salt, then bake."),
    Sample("", "a response to an empty prompt"),
    Sample("long " * 300, "the prompt of this one is long"),
]


@pytest.fixture(scope="module")
def reward(tiny_bert_dir):
    return load_reward(f"classifier:{tiny_bert_dir}")


@pytest.fixture(scope="module")
def server(reward):
    with ServerThread(create_app(reward, ServeConfig(spec="tiny-bert"))) as running:
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def as_json(sample: Sample, sample_id: str | None = None) -> dict:
    out = {"prompt": sample.prompt, "response": sample.response}
    if sample_id is not None:
        out["id"] = sample_id
    return out


def metric(http: httpx.Client, name: str, **labels: str) -> float:
    """The current value of one Prometheus sample, read from /metrics."""
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_score_returns_offline_scores_in_order_with_ids(http, reward):
    offline = [s.value for s in reward.score(SAMPLES)]
    body = {"samples": [as_json(s, f"id-{i}") for i, s in enumerate(SAMPLES)], "request_id": "req-1"}
    response = http.post("/v1/score", json=body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["request_id"] == "req-1" and response.headers["x-request-id"] == "req-1"
    assert payload["reward"] == reward.name and payload["normalized"] is False
    assert [s["id"] for s in payload["scores"]] == [f"id-{i}" for i in range(len(SAMPLES))]
    assert [s["value"] for s in payload["scores"]] == pytest.approx(offline, abs=1e-5)
    assert all(s["error"] is None for s in payload["scores"])


def test_request_id_from_header_or_generated(http):
    body = {"samples": [as_json(SAMPLES[0])]}
    assert http.post("/v1/score", json=body, headers={"x-request-id": "abc.123"}).json()["request_id"] == "abc.123"
    generated = http.post("/v1/score", json=body).json()["request_id"]
    assert len(generated) == 32 and generated != http.post("/v1/score", json=body).json()["request_id"]


def test_get_reward_follows_openrlhf_contract(http, reward):
    prompts = ["Human: hi\n\nAssistant:", "Human: 2+2?\n\nAssistant:"]
    responses = [" hello there", " 4"]
    queries = [p + r for p, r in zip(prompts, responses)]
    response = http.post("/get_reward", json={"query": queries, "prompts": prompts, "labels": ["a", None]})
    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"rewards", "scores", "extra_logs"}
    offline = [s.value for s in reward.score([Sample(p, r) for p, r in zip(prompts, responses)])]
    assert payload["rewards"] == pytest.approx(offline, abs=1e-5)
    assert payload["scores"] == payload["rewards"]
    assert payload["extra_logs"] == {}


def test_get_reward_query_only_and_one_request_per_sample(http, reward):
    """OpenRLHF's current client posts ``{"query": [q], "prompts": [p], "labels": [l]}`` per sample."""
    one = http.post("/get_reward", json={"query": ["just a query"]}).json()
    assert one["rewards"] == pytest.approx([reward.score([Sample("", "just a query")])[0].value], abs=1e-5)


def test_query_split_on_prompt_prefix():
    assert query_to_sample("P: hi A: yo", "P: hi", 3) == Sample("P: hi", " A: yo", reference="3")
    assert query_to_sample("other text", "P: hi", None) == Sample("", "other text")
    assert query_to_sample("text", None, None) == Sample("", "text")


def test_get_reward_misaligned_lists_are_422(http):
    response = http.post("/get_reward", json={"query": ["a", "b"], "prompts": ["a"]})
    assert response.status_code == 422
    assert "'prompts' has 1 items but 'query' has 2" in response.json()["message"]


def test_health_info_and_metrics(http, reward):
    assert http.get("/health").json()["status"] == "ok"
    info = http.get("/v1/info").json()
    assert info["spec"] == "tiny-bert" and info["reward"] == reward.name
    assert info["model"]["weights_sha256"] == reward.loaded.weights_sha256
    assert info["normalization"] is None and info["config"]["auth"] == "none"
    assert "api_key" not in info["config"]
    before = metric(http, "rewardlab_samples_total")
    http.post("/v1/score", json={"samples": [as_json(s) for s in SAMPLES[:3]]})
    assert metric(http, "rewardlab_samples_total") == before + 3
    assert metric(http, "rewardlab_batch_samples_count") >= 1
    assert metric(http, "rewardlab_tokens_total") > 0
    assert metric(http, "rewardlab_queue_samples") == 0
    assert metric(http, "rewardlab_request_seconds_count", endpoint="/v1/score") >= 1
    assert metric(http, "rewardlab_requests_total", endpoint="/v1/score", status="200") >= 1
    errors_before = metric(http, "rewardlab_errors_total", kind="invalid_request")
    http.post("/v1/score", json={"samples": []})
    assert metric(http, "rewardlab_errors_total", kind="invalid_request") == errors_before + 1


def test_openapi_schema_states_the_limits(http):
    schema = http.get("/openapi.json").json()
    assert {"/v1/score", "/get_reward", "/health", "/v1/info", "/metrics"} <= set(schema["paths"])
    score_request = schema["components"]["schemas"]["ScoreRequest"]["properties"]["samples"]
    assert score_request["maxItems"] == ServeConfig().max_samples_per_request
    assert score_request["minItems"] == 1


def test_dropped_sample_is_a_value_with_a_reason(tiny_bert_dir):
    reward = load_reward(f"classifier:{tiny_bert_dir},max_length=16,truncation=drop")
    long_sample = Sample("a " * 40, "b " * 40)
    with ServerThread(create_app(reward)) as server:
        body = {"samples": [as_json(SAMPLES[0]), as_json(long_sample)]}
        scores = httpx.post(server.url + "/v1/score", json=body).json()["scores"]
        assert scores[0]["value"] is not None and scores[0]["error"] is None
        assert scores[1]["value"] is None and "max_length 16" in scores[1]["error"]
        # OpenRLHF turns every reward into a tensor: a failed sample fails the request, loudly.
        failed = httpx.post(server.url + "/get_reward", json={"query": ["a b", "x " * 80]})
        assert failed.status_code == 422 and "query 1:" in failed.json()["message"]


def test_normalization_is_applied_and_reported(reward):
    norm = Normalization(mean=0.5, std=2.0)
    offline = reward.score([SAMPLES[0]])[0].value
    with ServerThread(create_app(reward, ServeConfig(normalization=norm))) as server:
        payload = httpx.post(server.url + "/v1/score", json={"samples": [as_json(SAMPLES[0])]}).json()
        assert payload["normalized"] is True
        assert payload["scores"][0]["value"] == pytest.approx((offline - 0.5) / 2.0, abs=1e-5)
        rewards = httpx.post(server.url + "/get_reward", json={"query": ["x"]}).json()["rewards"]
        assert rewards == pytest.approx([(reward.score([Sample("", "x")])[0].value - 0.5) / 2.0], abs=1e-5)
        info = httpx.get(server.url + "/v1/info").json()["normalization"]
        assert info == {"mean": 0.5, "std": 2.0, "source": "explicit"}
    with pytest.raises(ValueError, match="std must be positive"):
        Normalization(0.0, 0.0)
    assert not math.isnan(offline)


def test_stored_normalization_comes_from_the_model_config(tiny_bert_dir, tmp_path):
    from rewardlab.serve.server import stored_normalization

    reward = load_reward(f"classifier:{tiny_bert_dir}")
    with pytest.raises(ValueError, match="no stored mean/std"):
        stored_normalization(reward)
    reward.loaded.model.config.reward_mean, reward.loaded.model.config.reward_std = 0.25, 4.0
    assert stored_normalization(reward) == Normalization(0.25, 4.0, source="stored")
    from test_classifier_normalize import with_stored_stats

    twice = load_reward(f"classifier:{with_stored_stats(tiny_bert_dir, tmp_path / 'stats', 0.25, 4.0)},normalize=true")
    with pytest.raises(ValueError, match="apply it twice"):
        stored_normalization(twice)

"""Fuzzing the server with hypothesis: bad JSON, wrong types, empty lists and huge inputs get 4xx, never
5xx, and the server keeps answering. A tiny real BERT reward runs behind it, so inputs that pass
validation go through tokenization and a forward pass too."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardlab import load_reward
from rewardlab.serve import ServeConfig, ServerThread, create_app

LIMITS = ServeConfig(max_body_bytes=64 * 1024, max_samples_per_request=8, max_chars_per_sample=3000,
                     max_queue_samples=64, max_queue_delay_ms=1.0)
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=20)
huge_text = st.integers(0, 70_000).map(lambda n: "y" * n)
texts = st.text(max_size=200) | huge_text | st.sampled_from(["", " ", "\x00", "é" * 50, "\U0001F600"])
messages = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "x"]),
                                           "content": texts}), max_size=4)
field_values = texts | messages | json_values
sample_dicts = st.dictionaries(
    st.sampled_from(["prompt", "response", "steps", "reference", "id", "extra"]), field_values, max_size=6
) | st.fixed_dictionaries({"prompt": texts | messages, "response": texts})


@pytest.fixture(scope="module")
def http(tiny_bert_dir):
    reward = load_reward(f"classifier:{tiny_bert_dir},max_length=64")
    with ServerThread(create_app(reward, LIMITS)) as server, httpx.Client(base_url=server.url,
                                                                           timeout=60) as client:
        yield client
        assert client.get("/health").status_code == 200  # still alive after everything


def post(http: httpx.Client, path: str, payload) -> httpx.Response:
    body = json.dumps(payload, allow_nan=True).encode()  # NaN/Infinity literals included on purpose
    return http.post(path, content=body, headers={"content-type": "application/json"})


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text


@FUZZ
@given(payload=json_values)
def test_arbitrary_json_never_5xx(http, payload):
    for path in ("/v1/score", "/get_reward"):
        check(post(http, path, payload))


@FUZZ
@given(samples=st.lists(sample_dicts, max_size=10), request_id=st.none() | st.text(max_size=20))
def test_score_payloads_near_the_schema_never_5xx(http, samples, request_id):
    payload = {"samples": samples} if request_id is None else {"samples": samples, "request_id": request_id}
    response = post(http, "/v1/score", payload)
    check(response)
    if response.status_code == 200:
        scores = response.json()["scores"]
        assert len(scores) == len(samples)
        assert all((s["value"] is None) == (s["error"] is not None) for s in scores)


@FUZZ
@given(query=st.lists(texts | json_scalars, max_size=10), prompts=st.none() | st.lists(texts | st.none(), max_size=10),
       labels=st.none() | st.lists(json_values, max_size=10))
def test_get_reward_payloads_never_5xx(http, query, prompts, labels):
    response = post(http, "/get_reward", {"query": query, "prompts": prompts, "labels": labels})
    check(response)
    if response.status_code == 200:
        assert len(response.json()["rewards"]) == len(query)


@FUZZ
@given(body=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_raw_bytes_never_5xx(http, body):
    for path in ("/v1/score", "/get_reward"):
        check(http.post(path, content=body, headers={"content-type": "application/json"}))


@pytest.mark.parametrize("body", [
    b"[" * 100_000,  # nesting deep enough to exhaust the JSON parser's recursion
    b'{"samples": [{"response": "\\ud800\\udfff\\udc00"}]}',
    b'{"query": ["\\udc00"], "prompts": ["\\ud800"]}',
    b'{"samples": [{"response": "' + b"z" * 70_000 + b'"}]}',
    b'{"samples": [' + b'{"response": "a"},' * 20 + b'{"response": "a"}]}',
    b'{"samples": [{"response": NaN}]}',
    b"\xff\xfe\x00garbage",
])
def test_hostile_bodies_are_4xx(http, body):
    for path in ("/v1/score", "/get_reward"):
        response = http.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, response.text

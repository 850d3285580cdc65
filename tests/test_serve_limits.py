"""Safe by default: loopback binding, bearer auth, and limits answered 413/422/400 with clear messages."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from rewardlab import Sample, Score
from rewardlab.cli import app as cli
from rewardlab.serve import ServeConfig, ServerThread, check_bind, create_app
from rewardlab.serve.config import is_loopback

LIMITS = ServeConfig(max_body_bytes=4096, max_samples_per_request=3, max_chars_per_sample=100,
                     max_queue_samples=16)


class LengthReward:
    """A real, trivial reward (response length): these tests are about the HTTP layer, not models."""

    name = "length"

    def score(self, samples):
        return [Score(float(len(s.response))) for s in samples]


@pytest.fixture(scope="module")
def server():
    with ServerThread(create_app(LengthReward(), LIMITS)) as running:
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def test_body_over_limit_is_413_whether_declared_or_streamed(http):
    big = json.dumps({"samples": [{"response": "x" * 5000}]}).encode()
    declared = http.post("/v1/score", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert "limit of 4096 bytes" in declared.json()["message"]

    def chunks():  # no Content-Length: the server must count while reading
        for _ in range(10):
            yield b"x" * 1000

    streamed = http.post("/v1/score", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_too_many_samples_is_422_naming_the_limit(http):
    response = http.post("/v1/score", json={"samples": [{"response": "a"}] * 4})
    assert response.status_code == 422
    assert "at most 3 items" in response.json()["message"]
    assert http.post("/get_reward", json={"query": ["a"] * 4}).status_code == 422


def test_too_many_characters_is_422_naming_the_limit(http):
    response = http.post("/v1/score", json={"samples": [{"prompt": "p" * 60, "response": "r" * 60}]})
    assert response.status_code == 422
    message = response.json()["message"]
    assert "120 characters" in message and "at most 100" in message and "--max-chars-per-sample" in message
    assert http.post("/get_reward", json={"query": ["q" * 101]}).status_code == 422


@pytest.mark.parametrize("body, status, fragment", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"samples": []}', 422, "at least 1 item"),
    (b'{"samples": [{"response": 5}]}', 422, "valid string"),
    (b'{"samples": [{"prompt": "p"}]}', 422, "response: Field required"),
    (b'{"samples": [{"response": "r", "colour": "red"}]}', 422, "colour: Extra inputs are not permitted"),
    (b'{"samples": [{"response": "r", "prompt": [{"role": "user"}]}]}', 422, "content"),
    (b'{"samples": [{"response": "\\ud800"}]}', 422, "samples.0.response"),
    (b'[1, 2, 3]', 422, "valid dictionary"),
    (b'{"samples": "many"}', 422, "valid list"),
    (b'{"samples": [{"response": "r"}], "request_id": "bad id!"}', 422, "request_id"),
])
def test_bad_requests_get_4xx_with_clear_messages(http, body, status, fragment):
    response = http.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert fragment in response.text
    assert "Traceback" not in response.text


def test_wrong_content_type_says_to_send_json(http):
    response = http.post("/v1/score", content=b'{"samples": [{"response": "r"}]}',
                         headers={"content-type": "text/plain"})
    assert response.status_code == 422 and "Content-Type: application/json" in response.json()["message"]


def test_errors_do_not_echo_the_input(http):
    secret = "s3cret-" + "z" * 150
    response = http.post("/v1/score", json={"samples": [{"response": secret}]})
    assert response.status_code == 422 and secret not in response.text


def test_api_key_required_everywhere_but_health():
    config = ServeConfig(api_key="k3y")
    with ServerThread(create_app(LengthReward(), config)) as server:
        body = {"samples": [{"response": "abc"}]}
        missing = httpx.post(server.url + "/v1/score", json=body)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        wrong = httpx.post(server.url + "/v1/score", json=body, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx.get(server.url + "/metrics").status_code == 401
        assert httpx.get(server.url + "/health").status_code == 200
        good = httpx.post(server.url + "/v1/score", json=body, headers={"authorization": "Bearer k3y"})
        assert good.json()["scores"][0]["value"] == 3.0
        info = httpx.get(server.url + "/v1/info", headers={"authorization": "Bearer k3y"}).json()
        assert info["config"]["auth"] == "bearer" and "k3y" not in json.dumps(info)


def test_bind_rules():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.3.4.5") and not is_loopback("0.0.0.0") and not is_loopback("10.0.0.2")
    check_bind("127.0.0.1", None, False)
    check_bind("0.0.0.0", "key", False)
    check_bind("0.0.0.0", None, True)
    with pytest.raises(ValueError, match="--api-key"):
        check_bind("0.0.0.0", None, False)


def test_cli_refuses_public_bind_without_key_before_loading_anything(monkeypatch):
    monkeypatch.delenv("REWARDLAB_API_KEY", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--reward", "classifier:does-not-exist", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to bind" in result.output


def test_config_rejects_impossible_limits():
    with pytest.raises(ValueError, match="could never be queued"):
        ServeConfig(max_samples_per_request=10, max_queue_samples=5)
    with pytest.raises(ValueError, match="must be positive"):
        ServeConfig(max_body_bytes=0)
    with pytest.raises(ValueError, match="empty"):
        ServeConfig(api_key=" ")


def test_sample_conversion_keeps_chat_prompts(http):
    body = {"samples": [{"prompt": [{"role": "user", "content": "hi"}], "response": "hey", "id": "x"}]}
    assert http.post("/v1/score", json=body).json()["scores"][0] == {
        "value": 3.0, "steps": None, "components": {}, "rationale": None, "error": None, "id": "x"}
    assert Sample([{"role": "user", "content": "hi"}], "hey").prompt_text().endswith("Assistant:")

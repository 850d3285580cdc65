"""Operators decide, not data: a crafted dataset row cannot pick the reward, nor send a secret anywhere.

A real HTTP server on loopback records every request and its headers; the row below is what a poisoned
dataset would carry for verl: a ``remote:`` spec pointing at that server with ``api_key_env`` naming a
variable that holds a secret. It must never reach the server, whatever the operator configured.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rewardlab import Sample, load_reward
from rewardlab.generation.keys import KeyNotAllowed
from rewardlab.integrations.verl import compute_score, make_compute_score
from rewardlab.serve.client import RemoteReward


class Recorder:
    """A real reward-server stand-in: answers /v1/score with 1.0 per sample and records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                recorder.requests.append({"path": self.path, "headers": headers})
                payload = json.dumps({"scores": [{"value": 1.0} for _ in body.get("samples", [])]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def secret(monkeypatch):
    value = "s3cret-" + secrets.token_hex(12)
    monkeypatch.setenv("REWARDLAB_TEST_SECRET", value)
    monkeypatch.delenv("REWARDLAB_ALLOWED_KEY_ENVS", raising=False)
    monkeypatch.delenv("REWARDLAB_ROW_REWARDS", raising=False)
    monkeypatch.delenv("REWARDLAB_REWARD", raising=False)
    return value


def crafted_row(url: str) -> dict:
    return {"reward_spec": f"remote:{url},api_key_env=REWARDLAB_TEST_SECRET", "question": "2+2?"}


def test_a_crafted_row_cannot_send_a_secret_anywhere(recorder, secret, monkeypatch):
    row = crafted_row(recorder.url)
    # 1. The operator configured a reward: it scores the row, the row's spec is never loaded.
    monkeypatch.setenv("REWARDLAB_REWARD", "rule:math")
    assert compute_score("my/data", "The answer is 4", "4", row) == 1.0
    assert make_compute_score("rule:math")("my/data", "The answer is 5", "4", row) == 0.0
    # 2. A math source with no operator reward: verl's default (rule:math), still not the row's spec.
    monkeypatch.delenv("REWARDLAB_REWARD")
    assert compute_score("openai/gsm8k", "#### 4", "4", row) == 1.0
    # 3. Nothing configured: an error that says rows may not choose.
    with pytest.raises(ValueError, match="rows may not choose the reward"):
        compute_score("my/data", "4", "4", row)
    # 4. The operator lets rows choose among names: a spec is not a name.
    monkeypatch.setenv("REWARDLAB_ROW_REWARDS", "math=rule:math")
    with pytest.raises(ValueError, match="did not list"):
        compute_score("my/data", "4", "4", row)
    with pytest.raises(ValueError, match="did not list"):
        make_compute_score("rule:math", row_rewards={"math": "rule:math"})("my/data", "4", "4", row)
    assert recorder.requests == []


def test_api_key_env_reads_only_variables_the_operator_allows(recorder, secret, monkeypatch):
    spec = f"remote:{recorder.url},api_key_env=REWARDLAB_TEST_SECRET"
    with pytest.raises(KeyNotAllowed, match="api_key_env='REWARDLAB_TEST_SECRET' is not allowed"):
        load_reward(spec)
    # Even when the operator points verl at it, the spec fails to load and nothing is sent.
    with pytest.raises(KeyNotAllowed):
        make_compute_score(spec)("my/data", "4", "4", {})
    assert recorder.requests == []
    # The operator allows the name: now (and only now) the key goes out, so the recorder does see keys.
    monkeypatch.setenv("REWARDLAB_ALLOWED_KEY_ENVS", "SOMETHING_ELSE,REWARDLAB_TEST_SECRET")
    assert load_reward(spec).score([Sample("q", "r")])[0].value == 1.0
    assert [r["headers"].get("authorization") for r in recorder.requests] == [f"Bearer {secret}"]
    monkeypatch.delenv("REWARDLAB_ALLOWED_KEY_ENVS")
    with pytest.raises(KeyNotAllowed):
        RemoteReward.from_spec(f"{recorder.url},api_key_env=REWARDLAB_TEST_SECRET", allow_key_envs=["OTHER"])
    with RemoteReward.from_spec(f"{recorder.url},api_key_env=REWARDLAB_TEST_SECRET",
                                allow_key_envs=["REWARDLAB_TEST_SECRET"]) as remote:  # the Python caller allows it
        remote.score([Sample("q", "r")])
    assert recorder.requests[-1]["headers"].get("authorization") == f"Bearer {secret}"

"""What a server refuses without the operator's say-so: rewards that run client code, and binding beyond
loopback without a key, through every entry point (create_app, the CLI, ServerThread, serve_forever)."""

from __future__ import annotations

import secrets
import subprocess
import sys

import httpx
import pytest

from rewardlab import load_reward
from rewardlab.rewards.rules.base import RuleReward
from rewardlab.serve import ServeConfig, ServerThread, create_app
from rewardlab.serve.server import serve_forever
from rewardlab.types import Score

COMPOSITE = """
rewards:
  correct: rule:math
  runs: rule:code,timeout=5
total:
  weighted_sum: {correct: 1.0, runs: 1.0}
"""


def length_reward() -> RuleReward:
    return RuleReward("length", lambda s: Score(float(len(s.response))))


@pytest.fixture
def composite(tmp_path, bwrap_sandbox):
    path = tmp_path / "with_code.yaml"
    path.write_text(COMPOSITE)
    return path


def test_rewards_that_run_code_need_allow_client_code(composite):
    for reward in (load_reward("rule:code"), load_reward(str(composite))):
        with pytest.raises(ValueError, match="runs code that clients send.*--allow-client-code"):
            create_app(reward)
        create_app(reward, ServeConfig(allow_client_code=True))  # the operator opted in
    create_app(load_reward("rule:math"))  # rewards that run no code need nothing


def test_the_cli_refuses_to_serve_rule_code(composite):
    """A real ``rewardlab serve`` process (with a timeout: a server that did start would never return)."""
    for spec in ("rule:code", str(composite)):
        done = subprocess.run([sys.executable, "-m", "rewardlab.cli", "serve", "--reward", spec, "--port", "0"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0
        assert "--allow-client-code" in done.stderr, done.stderr


def test_allowed_client_code_runs_in_the_sandbox(bwrap_sandbox):
    """With the flag, the client's tests (its `reference`) run, contained: a secret held by a host process
    does not come back in the response."""
    secret = "s3cret-" + secrets.token_hex(12)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                              env={"REWARDLAB_TEST_SECRET": secret, "PATH": "/usr/bin:/bin"})
    hostile = f"assert False, open('/proc/{holder.pid}/environ').read()"
    try:
        served = create_app(load_reward("rule:code,timeout=5"), ServeConfig(allow_client_code=True))
        with ServerThread(served) as server:
            body = {"samples": [{"prompt": "f", "response": "def f():\n    return 1", "reference": "assert f() == 1"},
                                {"prompt": "f", "response": "def f():\n    return 1", "reference": hostile}]}
            answer = httpx.post(server.url + "/v1/score", json=body, timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert answer.status_code == 200, answer.text
    values = [s["value"] for s in answer.json()["scores"]]
    assert values == [1.0, 0.0]
    assert secret not in answer.text and "REWARDLAB_TEST_SECRET" not in answer.text


def test_server_thread_and_serve_forever_apply_the_bind_rule():
    open_app = create_app(length_reward())
    with pytest.raises(ValueError, match="refusing to bind '0.0.0.0' without authentication"):
        ServerThread(open_app, host="0.0.0.0")
    with pytest.raises(ValueError, match="refusing to bind '0.0.0.0' without authentication"):
        serve_forever(open_app, "0.0.0.0", 0, ServeConfig())
    with pytest.raises(ValueError, match="refusing to bind"):  # a key in a config the app does not enforce
        serve_forever(open_app, "0.0.0.0", 0, ServeConfig(api_key="not-the-apps"))
    with ServerThread(open_app, host="0.0.0.0", insecure=True) as server:  # the operator said so
        assert httpx.get(f"http://127.0.0.1:{server.port}/health").status_code == 200
    keyed = create_app(length_reward(), ServeConfig(api_key="k3y"))
    with ServerThread(keyed, host="0.0.0.0") as server:
        assert httpx.get(f"http://127.0.0.1:{server.port}/v1/info").status_code == 401
    with ServerThread(open_app) as server:  # loopback needs nothing
        assert httpx.get(server.url + "/health").status_code == 200

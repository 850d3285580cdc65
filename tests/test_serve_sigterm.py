"""``rewardlab serve`` as a real process: SIGTERM stops new connections and lets in-flight requests finish."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from rewardlab import Sample, load_reward

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigterm_drains_in_flight_requests(tiny_bert_dir, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    # A long queue delay keeps the requests in flight (queued) when SIGTERM arrives.
    command = [sys.executable, "-c", "from rewardlab.cli import main; main()", "serve",
               "--reward", f"classifier:{tiny_bert_dir}", "--port", str(port),
               "--max-queue-delay-ms", "4000", "--log-level", "warning"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: server.poll() is None and httpx.get(url + "/health").status_code == 200, 90,
                   "the server to start")
        samples = [Sample(f"prompt {i}", "response " * (i + 1)) for i in range(6)]
        results: dict[int, httpx.Response] = {}

        def post(i: int) -> None:
            body = {"samples": [{"prompt": samples[i].prompt, "response": samples[i].response}]}
            results[i] = httpx.post(url + "/v1/score", json=body, timeout=60)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(len(samples))]
        for t in threads:
            t.start()
        wait_until(lambda: "rewardlab_queue_samples 6.0" in httpx.get(url + "/metrics").text, 30,
                   "all requests to be queued")
        server.send_signal(signal.SIGTERM)
        # new connections are refused at once, while the queued requests are still being served
        wait_until(lambda: _refused(url), 10, "the listening socket to close")
        assert server.poll() is None and not results
        for t in threads:
            t.join(timeout=60)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    assert server.returncode in (0, -signal.SIGTERM), (tmp_path / "server.log").read_text()
    offline = [s.value for s in load_reward(f"classifier:{tiny_bert_dir}").score(samples)]
    assert sorted(results) == list(range(6))
    assert all(r.status_code == 200 for r in results.values())
    served = [results[i].json()["scores"][0]["value"] for i in range(6)]
    assert served == pytest.approx(offline, abs=1e-5)


def _refused(url: str) -> bool:
    try:
        httpx.get(url + "/health", timeout=2)
    except httpx.ConnectError:
        return True
    return False

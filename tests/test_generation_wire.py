"""The openai backend's retry rules, rate limits, request bodies and response parsing.

Retry behaviour needs a server that answers 429 and 503 on cue, which no real server here does; these tests
use `ScriptedServer`, a deliberately fake HTTP server on loopback that replays a list of responses and
records the requests. Everything else about the backend is tested against llama.cpp's real server in
test_generation_openai.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rewardlab.generation import SamplingParams
from rewardlab.generation import openai_wire as wire
from rewardlab.generation.limits import MAX_BACKOFF_S, RateLimiter, backoff_delay
from rewardlab.generation.openai_api import OpenAIConfig, OpenAIGenerator

OK = {"choices": [{"index": 0, "text": " fine", "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1}}


class ScriptedServer:
    """A fake OpenAI server (named as such): answers each POST with the next scripted (status, body, headers)."""

    def __init__(self, script):
        self.script, self.requests = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 -- http.server's naming
                length = int(self.headers.get("content-length", 0))
                outer.requests.append({"path": self.path, "body": json.loads(self.rfile.read(length)),
                                       "auth": self.headers.get("authorization")})
                status, body, headers = outer.script.pop(0) if outer.script else (500, {"error": "script ended"}, {})
                payload = json.dumps(body).encode()
                self.send_response(status)
                for k, v in {"content-type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


def backend(url, **kw):
    return OpenAIGenerator(OpenAIConfig(model="m", base_url=url, cache="off", backoff=0.0, **kw))


def test_429_and_503_are_retried_honouring_retry_after():
    script = [(503, {"error": {"message": "loading"}}, {"retry-after": "0"}), (429, {"error": "slow down"}, {}),
              (200, OK, {})]
    with ScriptedServer(script) as server:
        gen = backend(server.url, retries=3)
        (c,) = gen.generate(["hi"], SamplingParams(max_new_tokens=1))[0]
    assert c.ok and c.text == " fine" and c.tokens == 1 and c.prompt_tokens == 3
    assert gen.stats.retries == 2 and len(server.requests) == 3 and server.requests[0]["auth"] is None


def test_client_errors_other_than_429_are_never_retried():
    with ScriptedServer([(422, {"error": {"message": "bad temperature"}}, {}), (200, OK, {})]) as server:
        gen = backend(server.url, retries=5)
        (c,) = gen.generate(["hi"], SamplingParams(max_new_tokens=1))[0]
    assert c.error == "HTTP 422: bad temperature" and len(server.requests) == 1 and gen.stats.retries == 0


def test_retries_give_up_with_the_last_reason():
    with ScriptedServer([(500, {"error": "boom"}, {})] * 3) as server:
        (c,) = backend(server.url, retries=2).generate(["hi"], SamplingParams(max_new_tokens=1))[0]
    assert c.error == "gave up after 3 attempts: HTTP 500: boom" and len(server.requests) == 3


def test_connection_errors_are_retried_then_counted():
    from rewardlab.generation.llama_server import free_port

    gen = backend(f"http://127.0.0.1:{free_port()}/v1", retries=1)
    (c,) = gen.generate(["hi"], SamplingParams(max_new_tokens=1))[0]
    assert c.error.startswith("gave up after 2 attempts: ConnectError") and gen.stats.failures == 1


def test_request_bodies_follow_the_openai_contract():
    with ScriptedServer([(200, OK, {})] * 3) as server:
        gen = backend(server.url)
        gen.generate(["text prompt"], SamplingParams(max_new_tokens=5, stop=tuple("abcdef")))
        gen.generate([[{"role": "user", "content": "hi"}]],
                     SamplingParams(n=1, temperature=0.7, top_p=0.9, max_new_tokens=2, logprobs=True, top_logprobs=3))
    text, chat = server.requests[0], server.requests[1]
    assert text["path"] == "/v1/completions" and text["body"]["prompt"] == "text prompt"
    assert text["body"]["stop"] == list("abcd") and "seed" not in text["body"] and text["body"]["temperature"] == 0
    assert chat["path"] == "/v1/chat/completions" and chat["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert chat["body"]["logprobs"] is True and chat["body"]["top_logprobs"] == 3 and chat["body"]["top_p"] == 0.9
    assert isinstance(chat["body"]["seed"], int) and chat["body"]["n"] == 1


def test_responses_are_parsed_strictly():
    params = SamplingParams(stop=("###",))
    chat = {"choices": [{"index": 0, "message": {"content": "A is better ### tail"}, "finish_reason": "length",
                         "logprobs": {"content": [{"token": "A", "logprob": -0.1, "top_logprobs": [
                             {"token": "A", "logprob": -0.1}, {"token": "B", "logprob": "nan?"}]}]}}]}
    (c,), usage = wire.parse_response(chat, "chat", params)
    assert c.text == "A is better " and c.finish_reason == "stop" and usage == {}
    assert c.logprobs == [-0.1] and c.top_logprobs == [{"A": -0.1, "B": float("-inf")}] and c.token_texts == ["A"]
    (bad,), _ = wire.parse_response({"choices": [{"message": {"content": None}}]}, "chat", params)
    assert bad.error == "choice has no text content"
    with pytest.raises(ValueError, match="no choices"):
        wire.parse_response({"choices": "nope"}, "chat", params)
    (weird,), _ = wire.parse_response({"choices": [{"text": "x", "logprobs": {"tokens": "oops"}}]}, "completions",
                                      params)
    assert weird.ok and weird.logprobs is None


def test_rate_limiter_spaces_requests_and_tokens_by_the_minute():
    now = [0.0]
    slept = []

    async def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(rpm=2, tpm=100, clock=lambda: now[0], sleep=sleep)

    async def run():
        await limiter.acquire(10)
        await limiter.acquire(10)
        await limiter.acquire(10)  # third request in the minute: waits until the first leaves the window
        assert now[0] == pytest.approx(60.0)
        ticket = await limiter.acquire(60)
        limiter.settle(ticket, 90)  # the server said 90 tokens: the window now holds 10 + 90
        now[0] = 100.0
        await limiter.acquire(5)  # 10 + 90 + 5 > 100 tokens: waits for the t=60 request to age out

    asyncio.run(run())
    assert now[0] == pytest.approx(120.0) and len(slept) == 2


def test_backoff_doubles_with_jitter_and_is_capped():
    import random

    rng = random.Random(0)
    delays = [backoff_delay(a, 0.5, rng=rng) for a in range(4)]
    assert all(0.5 * 2**a <= d <= 0.625 * 2**a for a, d in enumerate(delays))
    assert backoff_delay(20, 0.5) == MAX_BACKOFF_S and backoff_delay(0, 0.5, "7") == 7.0
    assert backoff_delay(0, 0.5, "3600") == MAX_BACKOFF_S

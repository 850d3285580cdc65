"""The OpenAI wire format: request bodies for chat and completions, and strict parsing of responses.

Pure functions, so the format is tested on hand-written JSON. A response is untrusted input (a proxy, a
misbehaving local server): every field is type-checked, texts and logprob lists are length-capped, and a
malformed choice becomes a failed `Completion` with the reason, never an exception deep in a judge.
"""

from __future__ import annotations

import math
from typing import Any

from rewardlab.generation.base import Completion, GenPrompt, SamplingParams, plain_chat_text, truncate_at_stop

MAX_TEXT_CHARS = 1_000_000
MAX_STOP_STRINGS = 4  # the OpenAI API's limit; further stop strings are applied client-side
MAX_SEED = 2**31 - 1


def endpoint_for(prompt: GenPrompt, endpoint: str) -> str:
    """``auto``: messages go to chat, strings to completions; ``chat`` / ``completions`` force one."""
    if endpoint == "auto":
        return "completions" if isinstance(prompt, str) else "chat"
    return endpoint


def request_body(model: str, prompt: GenPrompt, params: SamplingParams, endpoint: str, n: int = 1,
                 seed: int | None = None) -> dict[str, Any]:
    """The JSON body for one request of ``n`` samples (``seed`` only when sampling)."""
    body: dict[str, Any] = {"model": model, "max_tokens": params.max_new_tokens, "n": n,
                            "temperature": 0.0 if params.greedy else params.temperature}
    if not params.greedy:
        body["top_p"] = params.top_p
        if seed is not None:
            body["seed"] = int(seed) % MAX_SEED
    if params.stop:
        body["stop"] = list(params.stop[:MAX_STOP_STRINGS])
    want_logprobs = params.logprobs or params.top_logprobs > 0
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        if want_logprobs:
            body["logprobs"] = True
            if params.top_logprobs:
                body["top_logprobs"] = params.top_logprobs
    else:
        body["prompt"] = prompt if isinstance(prompt, str) else plain_chat_text(prompt)
        if want_logprobs:
            body["logprobs"] = params.top_logprobs
    return body


def parse_response(data: Any, endpoint: str, params: SamplingParams) -> tuple[list[Completion], dict[str, int]]:
    """Choices (in ``index`` order) and the usage block of one response."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise ValueError("response has no choices")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    counts = {k: int(usage[k]) for k in ("prompt_tokens", "completion_tokens")
              if isinstance(usage.get(k), int) and usage[k] >= 0}
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    return [parse_choice(c, endpoint, params) for c in choices], counts


def parse_choice(choice: Any, endpoint: str, params: SamplingParams) -> Completion:
    if not isinstance(choice, dict):
        return Completion.failure("malformed choice")
    if endpoint == "chat":
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
    else:
        text = choice.get("text")
    if not isinstance(text, str):
        return Completion.failure("choice has no text content")
    text, hit = truncate_at_stop(text[:MAX_TEXT_CHARS], params.stop)
    finish = choice.get("finish_reason")
    finish = "stop" if hit else (finish if isinstance(finish, str) else "stop")
    logprobs, top, texts = _logprobs(choice.get("logprobs"), endpoint)
    tokens = len(logprobs) if logprobs is not None else None
    return Completion(text=text, tokens=tokens, finish_reason=finish, logprobs=logprobs, top_logprobs=top,
                      token_texts=texts)


def _logprobs(block: Any, endpoint: str) -> tuple[list[float] | None, list[dict[str, float]] | None, list[str] | None]:
    """(chosen log-probs, top alternatives, token texts) from either endpoint's layout, or Nones."""
    if not isinstance(block, dict):
        return None, None, None
    if endpoint == "chat":
        content = block.get("content")
        if not isinstance(content, list):
            return None, None, None
        values, tops, texts = [], [], []
        for entry in content[:MAX_TEXT_CHARS]:
            if not isinstance(entry, dict):
                return None, None, None
            values.append(_float(entry.get("logprob")))
            texts.append(str(entry.get("token", "")))
            alternatives = entry.get("top_logprobs") or []
            tops.append({str(a.get("token", "")): _float(a.get("logprob")) for a in alternatives[:20]
                         if isinstance(a, dict)} if isinstance(alternatives, list) else {})
        return values, tops, texts
    tokens, values, alternatives = block.get("tokens"), block.get("token_logprobs"), block.get("top_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list):
        return None, None, None
    tops = [{str(k): _float(v) for k, v in list(a.items())[:20]} if isinstance(a, dict) else {}
            for a in (alternatives if isinstance(alternatives, list) else [])]
    return [_float(v) for v in values], tops or None, [str(t) for t in tokens]


def _float(value: Any) -> float:
    """A log-probability from JSON; anything else (None, a string) is -inf, never an exception."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value):
        return float(value)
    return float("-inf")


def error_message(response: Any) -> str:
    """The server's error text, short and on one line."""
    try:
        data = response.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        text = err.get("message", err) if isinstance(err, dict) else err
    except Exception:  # noqa: BLE001 -- any body at all, even not JSON
        text = response.text
    return " ".join(str(text).split())[:300]

"""Other systems' reward-server contracts on ``rewardlab serve``, so their clients point here unchanged.

- vLLM ``POST /classify`` and ``POST /pooling`` (verl's reward loop included): vLLM's request and response
  schemas and its activation rule (sigmoid for one value unless ``use_activation``/``activation`` is
  false). ``/pooling`` with ``task: token_classify`` returns per-token outputs of a token-classification
  PRM (``process:``), as vLLM serves Qwen2.5-Math-PRM-style models.
- slime ``POST /slime`` (``--rm-type remote_rm --rm-url http://HOST:PORT/slime``): ``{"prompt", "response",
  "label"}`` in, the reward as a bare JSON number out.
- NeMo Gym ``POST /verify`` (+ ``/seed_session``): ``BaseVerifyRequest`` in, the request plus ``reward`` out.
- OpenRLHF ``POST /get_reward`` as 0.11 calls it: one sample per request, empty lists to every URL but
  the first (answered with empty lists), ``query`` = the policy's decoded prompt + response with special
  tokens, parsed back into messages with the chat template (`chat_parse`).

Every façade scores through the same dynamic batcher, limits, normalization and error rules as
``/v1/score``; a sample that cannot be scored fails the request with 422 and the reason, because these
clients turn every reward into a number and cannot carry a null.
"""

import asyncio
import math
import time
import uuid
from typing import Any

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from rewardlab.serve.chat_parse import ChatTemplateParser, TemplateParseError
from rewardlab.serve.facade_inputs import (
    SlimeBody,
    VerifyBody,
    VLLMPoolingBody,
    chat_sample,
    check_sizes,
    openrlhf_sample,
    slime_sample,
    text_sample,
    verify_sample,
)
from rewardlab.serve.guards import error_body
from rewardlab.serve.schemas import build_schemas
from rewardlab.types import Sample, Score

FACADE_PATHS = ("/classify", "/pooling", "/slime", "/verify", "/seed_session", "/get_reward")


def reward_tokenizer(reward: Any) -> Any:
    loaded = getattr(reward, "loaded", None)
    return getattr(loaded, "tokenizer", None) or getattr(reward, "tokenizer", None)


def template_parser(reward: Any, template_from: str | None) -> tuple[ChatTemplateParser | None, bool]:
    """The chat-template parser for templated inputs: the tokenizer named by ``--query-template`` (strict:
    a query not in that template is an error), else the reward's own tokenizer when it has a template."""
    if template_from:
        from rewardlab.engine.loading import load_tokenizer, resolve_model_path

        return ChatTemplateParser(load_tokenizer(resolve_model_path(template_from)), template_from), True
    tok = reward_tokenizer(reward)
    if tok is not None and getattr(tok, "chat_template", None):
        try:
            return ChatTemplateParser(tok, f"the chat template of {getattr(reward, 'name', 'the reward')}"), False
        except TemplateParseError:
            return None, False
    return None, False


def invalid(message: str) -> JSONResponse:
    return JSONResponse(error_body(422, message), status_code=422)


def add_facade_routes(app: FastAPI, reward: Any, batcher: Any, config: Any, metrics: Any,
                      template_from: str | None = None) -> None:
    """Mount the façades on ``app`` (called by `rewardlab.serve.app.create_app`)."""
    from rewardlab.serve.app import openrlhf_response, scored

    parser, strict = template_parser(reward, template_from)
    GetRewardRequest = build_schemas(config).GetRewardRequest
    norm, served = config.normalization, config.spec or reward.name

    async def values(samples: list[Sample], endpoint: str) -> tuple[list[float] | None, Response | None]:
        """Normalized values in order, or the response that replaces them (limits, queue, failures)."""
        try:
            check_sizes(samples, config.max_samples_per_request, config.max_chars_per_sample)
        except ValueError as exc:
            return None, invalid(str(exc))
        scores, failure = await scored(batcher, samples, endpoint)
        if failure is not None:
            return None, failure
        bad = [(i, s.error or f"non-finite value {s.value}") for i, s in enumerate(scores) if not _ok(s)]
        if bad:
            metrics.errors.labels("sample_failed").inc(len(bad))
            listed = "; ".join(f"input {i}: {why}" for i, why in bad[:5])
            return None, invalid(f"{len(bad)} of {len(scores)} inputs could not be scored: {listed}")
        return [norm.apply(s.value) if norm else s.value for s in scores], None

    @app.post("/get_reward")
    async def get_reward(body: GetRewardRequest) -> Response:  # type: ignore[valid-type]
        """OpenRLHF: ``{"query", "prompts", "labels"}`` -> ``{"rewards", "scores", "extra_logs"}``."""
        if not body.query:  # OpenRLHF 0.11 sends empty lists to every server but the first
            return JSONResponse({"rewards": [], "scores": [], "extra_logs": {}})
        prompts = body.prompts or [None] * len(body.query)
        labels = body.labels or [None] * len(body.query)
        try:
            samples = [openrlhf_sample(parser, strict, q, p, lab) for q, p, lab in zip(body.query, prompts, labels)]
        except TemplateParseError as exc:
            return invalid(f"query could not be parsed: {exc}")
        scores, failure = await scored(batcher, samples, "/get_reward")
        return failure if failure is not None else openrlhf_response(scores, norm, metrics)

    async def vllm_samples(body: VLLMPoolingBody) -> list[Sample]:
        if body.messages is not None:
            return [chat_sample(body.messages)]
        tok = reward_tokenizer(reward)
        texts = []
        for item in body.inputs():
            if isinstance(item, str):
                texts.append(item)
            elif tok is None:
                raise ValueError(f"token-id input needs a reward with a tokenizer; {reward.name} has none")
            else:
                texts.append(tok.decode(item, skip_special_tokens=False))
        return [text_sample(parser, t) for t in texts]

    async def vllm_values(body: VLLMPoolingBody, endpoint: str) -> tuple[list[Sample], list[float] | None,
                                                                         Response | None]:
        try:
            samples = await vllm_samples(body)
        except ValueError as exc:
            return [], None, invalid(str(exc))
        got, failure = await values(samples, endpoint)
        return samples, got, failure

    @app.post("/classify")
    async def classify(body: VLLMPoolingBody) -> Response:
        """vLLM ``/classify``: one class, the reward (sigmoid unless ``use_activation`` is false)."""
        samples, got, failure = await vllm_values(body, "/classify")
        if failure is not None:
            return failure
        data = [{"index": i, "label": "reward", "probs": [_activate(v, body.activated())], "num_classes": 1}
                for i, v in enumerate(got)]
        return JSONResponse({"id": f"classify-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()),
                             "model": served, "data": data, "usage": _usage(samples)})

    @app.post("/pooling")
    async def pooling(body: VLLMPoolingBody) -> Response:
        """vLLM ``/pooling``: ``task: classify`` as /classify; ``task: token_classify`` per-token PRM outputs."""
        if body.task == "token_classify":
            return await token_classify(body)
        if body.task not in (None, "classify"):
            return invalid(f"task={body.task} is not served here: rewardlab serves classify and token_classify")
        samples, got, failure = await vllm_values(body, "/pooling")
        if failure is not None:
            return failure
        data = [{"index": i, "object": "pooling", "data": [_activate(v, body.activated())]} for i, v in enumerate(got)]
        return JSONResponse(_pooling_reply(served, data, _usage(samples)))

    async def token_classify(body: VLLMPoolingBody) -> Response:
        model = getattr(reward, "model", None)
        if getattr(getattr(reward, "kind", None), "value", None) != "token" or model is None:
            return invalid(f"task=token_classify needs a token-classification PRM (process:PATH, kind=token); "
                           f"this server serves {reward.name}")
        if body.messages is not None:
            return invalid("task=token_classify takes 'input' (text or token ids), not 'messages'")
        tok = reward.tokenizer
        add = body.add_special_tokens is not False
        rows = [list(tok(x, add_special_tokens=add)["input_ids"]) if isinstance(x, str) else list(x)
                for x in body.inputs()]
        too_long = [i for i, r in enumerate(rows) if len(r) > reward.max_length or not r]
        if len(rows) > config.max_samples_per_request or too_long:
            return invalid(f"inputs {too_long[:5]} are empty or longer than {reward.max_length} tokens, or there are "
                           f"more than {config.max_samples_per_request} inputs")
        outputs = await asyncio.to_thread(per_token_outputs, model, rows, body.activated())
        data = [{"index": i, "object": "pooling", "data": out} for i, out in enumerate(outputs)]
        n = sum(len(r) for r in rows)
        return JSONResponse(_pooling_reply(served, data, {"prompt_tokens": n, "total_tokens": n,
                                                          "completion_tokens": 0}))

    @app.post("/slime")
    async def slime(body: SlimeBody) -> Response:
        """slime's remote RM: the reward of one (prompt, response, label) as a bare number."""
        got, failure = await values([slime_sample(parser, body)], "/slime")
        return failure if failure is not None else JSONResponse(got[0])

    @app.post("/seed_session")
    async def seed_session() -> dict[str, Any]:
        """NeMo Gym calls this before each rollout; a reward server keeps no session state."""
        return {}

    @app.post("/verify")
    async def verify(body: VerifyBody) -> Response:
        """NeMo Gym's verify: the request echoed back with ``reward``."""
        try:
            sample = verify_sample(body)
        except ValueError as exc:
            return invalid(str(exc))
        got, failure = await values([sample], "/verify")
        return failure if failure is not None else JSONResponse({**body.model_dump(), "reward": got[0]})


def per_token_outputs(model: Any, rows: list[list[int]], activated: bool) -> list[list[list[float]]]:
    """A token classifier's outputs at every position, (tokens, labels) per row; vLLM's token_classify."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for ids in rows:
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float()
            if activated:
                logits = torch.sigmoid(logits) if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)
            out.append(logits.cpu().tolist())
    return out


def _ok(score: Score) -> bool:
    return score.error is None and math.isfinite(score.value)


def _activate(value: float, activated: bool) -> float:
    """vLLM's one-label activation, the sigmoid, computed without overflow."""
    if not activated:
        return value
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


def _usage(samples: list[Sample]) -> dict[str, Any]:
    """vLLM's UsageInfo; tokens are counted by the reward's own engine (GET /metrics), not here."""
    return {"prompt_tokens": 0, "total_tokens": 0, "completion_tokens": 0, "prompt_tokens_details": None}


def _pooling_reply(served: str, data: list[dict[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"pool-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()), "model": served,
            "data": data, "usage": usage}

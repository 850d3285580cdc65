"""`create_app(reward, config)`: the HTTP face of any `Reward`.

Endpoints: ``POST /v1/score`` (samples in, scores out), ``POST /get_reward`` (OpenRLHF's contract, so
``--remote_rm_url http://host:port/get_reward`` works unchanged), ``GET /health``, ``GET /v1/info`` and
``GET /metrics`` (Prometheus text). All state (queue, metrics, model thread) belongs to the app that
this function builds: there are no module globals, so several servers can live in one process.
"""

import logging
import math
import re
import uuid
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rewardlab.rewards.base import Reward
from rewardlab.serve.batcher import Batcher, QueueFull, RequestTimeout, ScoringError, ShuttingDown
from rewardlab.serve.config import Normalization, ServeConfig, check_client_code
from rewardlab.serve.guards import Guard, error_body, install_error_handlers
from rewardlab.serve.metrics import ServeMetrics
from rewardlab.serve.schemas import (
    REQUEST_ID_PATTERN,
    GetRewardResponse,
    ScoreResponse,
    build_schemas,
    query_to_sample,
)
from rewardlab.types import Sample, Score

log = logging.getLogger("rewardlab.serve")
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


def create_app(reward: Reward, config: ServeConfig | None = None) -> FastAPI:
    """Build a server for ``reward``; the model thread starts and stops with the app's lifespan.
    A reward that runs client code (rule:code) needs ``config.allow_client_code``, else ValueError."""
    from rewardlab import __version__

    config = config or ServeConfig()
    check_client_code(reward, config)
    metrics = ServeMetrics()
    batcher = Batcher(reward, config, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        log.info("serving %s", reward.name)
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="rewardlab reward server", version=__version__, lifespan=lifespan,
                  description=f"Serves the reward `{config.spec or reward.name}`.")
    app.state.batcher, app.state.metrics, app.state.config = batcher, metrics, config
    app.add_middleware(Guard, config=config, metrics=metrics)
    install_error_handlers(app, metrics)
    add_scoring_routes(app, reward, batcher, config, metrics)
    add_status_routes(app, reward, batcher, config, metrics)
    return app


def add_scoring_routes(app: FastAPI, reward: Reward, batcher: Batcher, config: ServeConfig,
                       metrics: ServeMetrics) -> None:
    """``POST /v1/score`` and ``POST /get_reward``, with request bodies validated against the limits."""
    schemas = build_schemas(config)
    ScoreRequest, GetRewardRequest = schemas.ScoreRequest, schemas.GetRewardRequest
    norm = config.normalization

    @app.post("/v1/score", responses={200: {"model": ScoreResponse}})
    async def score(body: ScoreRequest, request: Request) -> Response:  # type: ignore[valid-type]
        """Score samples; one score per sample, in order, each with the sample's ``id`` echoed."""
        request_id = _request_id(request, body.request_id)
        scores, failure = await scored(batcher, [s.to_sample() for s in body.samples], "/v1/score")
        if failure is not None:
            failure.headers["x-request-id"] = request_id
            return failure
        out = [score_to_dict(sc, s.id, norm) for sc, s in zip(scores, body.samples)]
        failed = sum(1 for o in out if o["value"] is None)
        if failed:
            metrics.errors.labels("sample_failed").inc(failed)
        payload = {"request_id": request_id, "reward": reward.name, "normalized": norm is not None,
                   "scores": out}
        return JSONResponse(payload, headers={"x-request-id": request_id})

    @app.post("/get_reward", responses={200: {"model": GetRewardResponse}})
    async def get_reward(body: GetRewardRequest) -> Response:  # type: ignore[valid-type]
        """OpenRLHF's remote reward contract: ``{"query", "prompts", "labels"}`` in,
        ``{"rewards", "scores", "extra_logs"}`` out. ``query`` is prompt + response as one string."""
        prompts = body.prompts or [None] * len(body.query)
        labels = body.labels or [None] * len(body.query)
        samples = [query_to_sample(q, p, lab) for q, p, lab in zip(body.query, prompts, labels)]
        scores, failure = await scored(batcher, samples, "/get_reward")
        if failure is not None:
            return failure
        return openrlhf_response(scores, norm, metrics)


def add_status_routes(app: FastAPI, reward: Reward, batcher: Batcher, config: ServeConfig,
                      metrics: ServeMetrics) -> None:
    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: 200 while the server accepts work (no auth, for load balancers)."""
        return {"status": "ok", "queue_samples": batcher.queued_samples}

    @app.get("/v1/info")
    async def info() -> dict[str, Any]:
        """What is served: reward, model provenance, normalization, limits and batching."""
        return server_info(reward, config)

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format: queue depth, batch sizes, tokens/s, latency histograms, errors."""
        return Response(metrics.render(), media_type=metrics.content_type)


async def scored(batcher: Batcher, samples: list[Sample],
                 endpoint: str) -> tuple[list[Score] | None, JSONResponse | None]:
    """The scores, or the error response that replaces them (503, 504, 422 or 500)."""
    metrics, config = batcher.metrics, batcher.config
    with metrics.request_seconds.labels(endpoint).time():
        try:
            return await batcher.submit(samples), None
        except QueueFull as exc:
            return None, _unavailable(metrics, "queue_full", f"{exc}; retry later", config.retry_after_s)
        except ShuttingDown as exc:
            return None, _unavailable(metrics, "shutting_down", str(exc), config.retry_after_s)
        except RequestTimeout as exc:
            metrics.errors.labels("timeout").inc()
            return None, JSONResponse(error_body(504, f"{exc} (--request-timeout-s)"), status_code=504)
        except ScoringError as exc:
            return None, _scoring_failed(metrics, exc)


def score_to_dict(score: Score, sample_id: str | None, norm: Normalization | None) -> dict[str, Any]:
    """JSON-safe score: NaN/inf become null, and a missing value always comes with a reason."""
    value = finite(score.value)
    error = score.error
    if value is None and error is None:
        error = f"reward returned a non-finite value ({score.value})"
    if value is not None and norm is not None:
        value = norm.apply(value)
    return {
        "value": value,
        "steps": None if score.steps is None else [finite(x) for x in score.steps],
        "components": {k: finite(v) for k, v in (score.components or {}).items()},
        "rationale": score.rationale,
        "error": error,
        "id": sample_id,
    }


def openrlhf_response(scores: list[Score], norm: Normalization | None, metrics: ServeMetrics) -> JSONResponse:
    """``rewards`` and ``scores`` (the same list, as OpenRLHF's serve_rm returns), score components as
    ``extra_logs`` (one list per component). OpenRLHF turns every value into a tensor, so a sample that
    could not be scored fails the request with 422 instead of sending a null it would crash on."""
    failed = [(i, s.error or f"non-finite value {s.value}") for i, s in enumerate(scores)
              if s.error is not None or finite(s.value) is None]
    if failed:
        metrics.errors.labels("sample_failed").inc(len(failed))
        listed = "; ".join(f"query {i}: {reason}" for i, reason in failed[:5])
        return JSONResponse(error_body(422, f"{len(failed)} of {len(scores)} queries could not be scored: "
                                            f"{listed}"), status_code=422)
    rewards = [norm.apply(s.value) if norm else s.value for s in scores]
    names = set(scores[0].components or {})
    for s in scores[1:]:
        names &= set(s.components or {})
    extra = {name: [s.components[name] for s in scores] for name in sorted(names)
             if all(finite(s.components[name]) is not None for s in scores)}
    return JSONResponse({"rewards": rewards, "scores": rewards, "extra_logs": extra})


def server_info(reward: Reward, config: ServeConfig) -> dict[str, Any]:
    from rewardlab import __version__

    provenance = getattr(reward, "provenance", None)
    model = provenance() if callable(provenance) else None
    norm = config.normalization
    return {
        "reward": reward.name,
        "spec": config.spec or reward.name,
        "model": model,
        "normalization": None if norm is None else {"mean": norm.mean, "std": norm.std, "source": norm.source},
        "config": config.public(),
        "rewardlab_version": __version__,
    }


def finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _request_id(request: Request, given: str | None) -> str:
    header = request.headers.get("x-request-id")
    if given:
        return given
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _unavailable(metrics: ServeMetrics, kind: str, message: str, retry_after: int) -> JSONResponse:
    metrics.errors.labels(kind).inc()
    return JSONResponse(error_body(503, message), status_code=503, headers={"retry-after": str(retry_after)})


def _scoring_failed(metrics: ServeMetrics, exc: ScoringError) -> JSONResponse:
    if exc.client_error:
        metrics.errors.labels("invalid_sample").inc()
        return JSONResponse(error_body(422, f"the reward rejected the input: {exc}"), status_code=422)
    metrics.errors.labels("scoring_failed").inc()
    return JSONResponse(error_body(500, f"scoring failed (error id {exc.error_id}); details are in the server "
                                        "log"),
                        status_code=500)

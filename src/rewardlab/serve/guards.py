"""What stands between the network and the handlers: bearer auth, the body-size limit, request counting,
and error responses that never carry a stack trace.

`Guard` is plain ASGI (no per-request task or response buffering) so it costs microseconds per request,
and it rejects unauthenticated or oversized requests before their body is read.
"""

from __future__ import annotations

import hmac
import json
import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rewardlab.serve.config import ServeConfig
from rewardlab.serve.metrics import ServeMetrics

log = logging.getLogger("rewardlab.serve")

UNAUTHENTICATED_PATHS = {"/health"}
KNOWN_PATHS = {"/v1/score", "/get_reward", "/health", "/v1/info", "/metrics", "/openapi.json", "/docs",
               "/classify", "/pooling", "/slime", "/verify", "/seed_session"}  # the last five: serve.facades
MAX_REPORTED_ERRORS = 20
STATUS_SLUGS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
                413: "too_large", 415: "unsupported_media_type", 422: "invalid_request", 503: "unavailable",
                504: "timeout"}


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The one error shape every endpoint uses: ``{"error": slug, "message": text, ...}``."""
    return {"error": STATUS_SLUGS.get(status, "error"), "message": message, **extra}


class Guard:
    """ASGI middleware: auth, body-size limit, per-endpoint status counts."""

    def __init__(self, app: Any, config: ServeConfig, metrics: ServeMetrics):
        self.app = app
        self.limit = config.max_body_bytes
        self.key = f"Bearer {config.api_key}".encode() if config.api_key else None
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = [500]

        async def counted_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, counted_send, path)
        finally:
            endpoint = path if path in KNOWN_PATHS else "other"
            self.metrics.requests.labels(endpoint, str(status[0])).inc()

    async def _guarded(self, scope: dict, receive: Any, send: Any, path: str) -> None:
        headers = dict(scope.get("headers") or [])
        if self.key is not None and path not in UNAUTHENTICATED_PATHS:
            given = headers.get(b"authorization", b"")
            if not hmac.compare_digest(given, self.key):
                self.metrics.errors.labels("unauthorized").inc()
                message = "missing or wrong API key: send 'Authorization: Bearer KEY'"
                await send_json(send, 401, error_body(401, message), [(b"www-authenticate", b"Bearer")])
                return
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await send_json(send, 400, error_body(400, "Content-Length is not an integer"))
                return
            if size > self.limit:
                await self._too_large(send, size)
                return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body, size = await _read_body(receive, self.limit)
            if body is None:
                await self._too_large(send, size)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _too_large(self, send: Any, size: int) -> None:
        self.metrics.errors.labels("too_large").inc()
        message = (f"request body of {size}+ bytes exceeds this server's limit of {self.limit} bytes "
                   "(--max-body-bytes); send fewer samples per request")
        await send_json(send, 413, error_body(413, message), [(b"connection", b"close")])


async def _read_body(receive: Any, limit: int) -> tuple[bytes | None, int]:
    """The whole body, or None (with the size reached) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, size
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), size


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_json(send: Any, status: int, payload: dict, headers: list | None = None) -> None:
    body = json.dumps(payload).encode()
    all_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers + (headers or [])})
    await send({"type": "http.response.body", "body": body})


def install_error_handlers(app: FastAPI, metrics: ServeMetrics) -> None:
    """Clear JSON errors for bad JSON (400), schema violations (422), HTTP errors, and crashes (500)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            metrics.errors.labels("invalid_json").inc()
            reason = (bad_json.get("ctx") or {}).get("error", "JSON decode error")
            where = bad_json["loc"][-1] if bad_json.get("loc") else "?"
            return JSONResponse(error_body(400, f"body is not valid JSON: {reason} (at character {where})"),
                                status_code=400)
        metrics.errors.labels("invalid_request").inc()
        details = [_describe(e) for e in errors[:MAX_REPORTED_ERRORS]]
        message = f"{details[0]['loc']}: {details[0]['msg']}" if details else "invalid request"
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type and any(d["loc"] == "body" for d in details):
            message += " (send the body as JSON with 'Content-Type: application/json')"
        return JSONResponse(error_body(422, message, errors=details, error_count=len(errors)), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        metrics.errors.labels("internal").inc()
        log.error("unhandled error %s on %s", error_id, request.url.path, exc_info=exc)
        return JSONResponse(error_body(500, f"internal error (id {error_id}); details are in the server log"),
                            status_code=500)


def _describe(error: dict) -> dict[str, str]:
    """A validation error without its ``input`` (which may be megabytes, or the client's secrets)."""
    loc = ".".join(str(part) for part in error.get("loc", ()))
    msg = str(error.get("msg", "invalid value"))
    return {"loc": loc, "msg": msg[:500], "type": str(error.get("type", ""))}

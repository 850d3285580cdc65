"""``rewardlab serve``: any reward over HTTP, with dynamic batching, OpenRLHF's ``/get_reward`` contract,
Prometheus metrics, and safe defaults (loopback only unless an API key or --insecure is given)."""

from __future__ import annotations

import os

import typer

from rewardlab.cli import app
from rewardlab.serve.config import FIELD_HELP, ServeConfig, check_bind, is_loopback

_DEFAULTS = ServeConfig()


@app.command()
def serve(
    reward: str = typer.Option(..., help="Reward spec to serve, e.g. classifier:minilm, rule:math, rm.yaml."),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Anything but loopback needs --api-key or "
                                               "--insecure."),
    port: int = typer.Option(8000, help="TCP port."),
    api_key: str | None = typer.Option(None, help=FIELD_HELP["api_key"] + " Also read from "
                                                  "$REWARDLAB_API_KEY.", show_default=False),
    insecure: bool = typer.Option(False, help="Allow binding a non-loopback address without an API key."),
    allow_client_code: bool = typer.Option(False, help=FIELD_HELP["allow_client_code"]),
    normalize: bool = typer.Option(False, help="Normalize values with the mean/std stored with the model."),
    norm_mean: float | None = typer.Option(None, help="Normalize with this mean (needs --norm-std)."),
    norm_std: float | None = typer.Option(None, help="Normalize with this std (needs --norm-mean)."),
    max_body_bytes: int = typer.Option(_DEFAULTS.max_body_bytes, help=FIELD_HELP["max_body_bytes"]),
    max_samples_per_request: int = typer.Option(_DEFAULTS.max_samples_per_request,
                                                help=FIELD_HELP["max_samples_per_request"]),
    max_chars_per_sample: int = typer.Option(_DEFAULTS.max_chars_per_sample,
                                             help=FIELD_HELP["max_chars_per_sample"]),
    max_queue_samples: int = typer.Option(_DEFAULTS.max_queue_samples, help=FIELD_HELP["max_queue_samples"]),
    max_queue_delay_ms: float = typer.Option(_DEFAULTS.max_queue_delay_ms,
                                             help=FIELD_HELP["max_queue_delay_ms"]),
    max_batch_samples: int = typer.Option(_DEFAULTS.max_batch_samples, help=FIELD_HELP["max_batch_samples"]),
    max_batch_tokens: int = typer.Option(_DEFAULTS.max_batch_tokens, help=FIELD_HELP["max_batch_tokens"]),
    request_timeout_s: float = typer.Option(_DEFAULTS.request_timeout_s, help=FIELD_HELP["request_timeout_s"]),
    drain_timeout_s: float = typer.Option(_DEFAULTS.drain_timeout_s, help=FIELD_HELP["drain_timeout_s"]),
    log_level: str = typer.Option("info", help="uvicorn log level: critical, error, warning, info, debug."),
    access_log: bool = typer.Option(False, help="Log every request (one line each)."),
) -> None:
    """Serve a reward over HTTP: POST /v1/score, POST /get_reward (OpenRLHF), GET /health, /v1/info, /metrics.

    Concurrent requests are batched together; the model runs in its own thread; a full queue answers 503
    with Retry-After; SIGTERM stops accepting connections and lets in-flight requests finish.
    """
    api_key = api_key or os.environ.get("REWARDLAB_API_KEY") or None
    try:
        check_bind(host, api_key, insecure)
        if (norm_mean is None) != (norm_std is None):
            raise ValueError("--norm-mean and --norm-std go together")
        if normalize and norm_mean is not None:
            raise ValueError("use either --normalize (stored mean/std) or --norm-mean/--norm-std, not both")
        config = ServeConfig(
            spec=reward, max_body_bytes=max_body_bytes, max_samples_per_request=max_samples_per_request,
            max_chars_per_sample=max_chars_per_sample, max_queue_samples=max_queue_samples,
            max_queue_delay_ms=max_queue_delay_ms, max_batch_samples=max_batch_samples,
            max_batch_tokens=max_batch_tokens, request_timeout_s=request_timeout_s,
            drain_timeout_s=drain_timeout_s, api_key=api_key, allow_client_code=allow_client_code,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _run(reward, config, host, port, normalize, norm_mean, norm_std, log_level, access_log, insecure)


def _run(spec, config, host, port, normalize, norm_mean, norm_std, log_level, access_log, insecure) -> None:
    import dataclasses

    from rewardlab.rewards.base import load_reward
    from rewardlab.serve.app import create_app
    from rewardlab.serve.config import Normalization
    from rewardlab.serve.server import serve_forever, stored_normalization

    scorer = load_reward(spec)
    try:
        if normalize:
            config = dataclasses.replace(config, normalization=stored_normalization(scorer))
        elif norm_mean is not None:
            config = dataclasses.replace(config, normalization=Normalization(norm_mean, norm_std))
        server_app = create_app(scorer, config)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"rewardlab serve: {scorer.name} on http://{host}:{port} "
               f"(auth: {'bearer' if config.api_key else 'none'})", err=True)
    if not config.api_key and not is_loopback(host):
        typer.echo("warning: --insecure: anyone who can reach this address can read prompts and get scores",
                   err=True)
    serve_forever(server_app, host, port, config, log_level=log_level, access_log=access_log, insecure=insecure)

"""Everything a reward server can be told, in one typed config: limits, batching, safety, normalization.

`ServeConfig` is the single source for the CLI flags (`rewardlab serve`), Python (`create_app`) and the
`/v1/info` report; each field's help text lives here once (``FIELD_HELP``) and the CLI reads it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

FIELD_HELP: dict[str, str] = {
    "max_body_bytes": "Largest request body accepted; larger bodies get 413.",
    "max_samples_per_request": "Most samples in one request; more get 422 (split the request).",
    "max_chars_per_sample": "Most characters in one sample (prompt + response + steps + reference); more get 422.",
    "max_queue_samples": "Samples allowed to wait for the model; beyond it requests get 503 with Retry-After.",
    "max_queue_delay_ms": "How long the first waiting request may wait for others to share its batch.",
    "max_batch_samples": "Most samples coalesced into one model call.",
    "max_batch_tokens": "Most (estimated) tokens coalesced into one model call; the reward's engine then cuts "
                        "exact token-budget sub-batches.",
    "request_timeout_s": "Seconds a request may wait for its scores before it gets 504.",
    "retry_after_s": "Seconds suggested to clients in Retry-After when the queue is full.",
    "drain_timeout_s": "On SIGTERM, seconds to let in-flight requests finish before they are cancelled "
                       "(0: no limit).",
    "api_key": "Bearer token every request except /health must carry (Authorization: Bearer KEY).",
    "allow_client_code": "Serve a reward that runs code (rule:code, also inside a composite): clients send the "
                         "code to run and, through `reference`, the tests. Off by default; the code runs in the "
                         "bwrap sandbox.",
}

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
CHARS_PER_TOKEN = 4
"""Rough characters per token used to fill batches before tokenization (the engine counts exactly)."""


@dataclass(frozen=True)
class Normalization:
    """z-normalisation r' = (r - mean) / std applied to every value the server returns.

    ``source`` says where the numbers came from: ``stored`` (the reward model's config, as written by
    ``rewardlab train`` and by OpenRLHF) or ``explicit`` (given on the command line).
    """

    mean: float
    std: float
    source: str = "explicit"

    def __post_init__(self) -> None:
        if not self.std > 0:
            raise ValueError(f"normalization std must be positive, got {self.std}")

    def apply(self, value: float) -> float:
        return (value - self.mean) / self.std


@dataclass(frozen=True)
class ServeConfig:
    """Limits and batching for one server. Defaults are safe for a CPU box and generous for RL jobs."""

    spec: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    max_samples_per_request: int = 1024
    max_chars_per_sample: int = 200_000
    max_queue_samples: int = 4096
    max_queue_delay_ms: float = 5.0
    max_batch_samples: int = 64  # bench/serve_sweep.py on 2 CPU cores, 64 clients: p99 1.56x a full batch, 256: 2.14x
    max_batch_tokens: int = 32_768
    request_timeout_s: float = 120.0
    retry_after_s: int = 1
    drain_timeout_s: float = 30.0
    api_key: str | None = field(default=None, repr=False)
    normalization: Normalization | None = None
    allow_client_code: bool = False

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_samples_per_request", "max_chars_per_sample", "max_queue_samples",
                     "max_batch_samples", "max_batch_tokens", "retry_after_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("max_queue_delay_ms", "request_timeout_s", "drain_timeout_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.max_samples_per_request > self.max_queue_samples:
            raise ValueError(
                f"max_samples_per_request ({self.max_samples_per_request}) exceeds max_queue_samples "
                f"({self.max_queue_samples}): such a request could never be queued"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key must not be empty")

    def public(self) -> dict[str, Any]:
        """The config as reported by ``/v1/info``: never the API key itself."""
        out = asdict(self)
        out.pop("api_key")
        out["auth"] = "bearer" if self.api_key else "none"
        return out


def is_loopback(host: str) -> bool:
    """True for addresses that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_client_code(reward: Any, config: ServeConfig) -> None:
    """Refuse to serve a reward that executes code unless the operator said so (``allow_client_code``).

    Over HTTP the response *and* the tests are the client's: ``rule:code`` reads tests from
    ``Sample.reference``, which any request sets, so serving it runs code of the client's choosing.
    """
    if getattr(reward, "executes_code", False) and not config.allow_client_code:
        raise ValueError(
            f"reward {getattr(reward, 'name', reward)!r} runs code that clients send (rule:code: the response "
            "and, through `reference`, the tests); refusing to serve it. Pass --allow-client-code "
            "(ServeConfig(allow_client_code=True)) if that is intended; see docs/serving.md"
        )


def check_bind(host: str, api_key: str | None, insecure: bool) -> None:
    """Refuse to expose an unauthenticated reward server beyond this machine.

    A reward endpoint steers training: whoever can reach it can read prompts and, if a client trusts it,
    inject rewards (OpenRLHF #1317 describes exactly this for a server that binds 0.0.0.0 by default).
    """
    if is_loopback(host) or api_key or insecure:
        return
    raise ValueError(
        f"refusing to bind {host!r} without authentication: pass --api-key KEY (clients send "
        "'Authorization: Bearer KEY'), or --insecure to accept unauthenticated requests from the network"
    )

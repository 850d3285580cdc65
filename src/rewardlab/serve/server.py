"""Running an app: in the foreground under uvicorn (with SIGTERM draining), or in a background thread on
a free loopback port (tests, notebooks, benchmarks). Both apply the CLI's bind rule (`check_bind`): an
address beyond loopback needs the app's API key, or ``insecure=True``.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from rewardlab.rewards.base import Reward
from rewardlab.serve.config import Normalization, ServeConfig, check_bind


def stored_normalization(reward: Reward) -> Normalization:
    """The reward mean/std stored with the model (``rewardlab train`` and OpenRLHF write them)."""
    getter = getattr(reward, "normalization", None)
    mean, std = getter() if callable(getter) else (None, None)
    if mean is None or std is None:
        raise ValueError(f"reward {reward.name!r} has no stored mean/std to normalize with; pass "
                         "--norm-mean and --norm-std, or train the model with rewardlab train")
    options = getattr(reward, "options", None)
    if getattr(options, "normalize", False):
        raise ValueError(f"reward {reward.name!r} already normalizes (normalize=true in its spec); "
                         "normalizing again in the server would apply it twice")
    return Normalization(float(mean), float(std), source="stored")


def serve_forever(app: Any, host: str, port: int, config: ServeConfig, log_level: str = "info",
                  access_log: bool = False, insecure: bool = False) -> None:
    """Run until SIGTERM/SIGINT; uvicorn then stops accepting connections, lets in-flight requests
    finish (up to ``config.drain_timeout_s``), and the app's lifespan drains the batch queue."""
    import uvicorn

    check_bind(host, _api_key(app, config), insecure)

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_graceful_shutdown=config.drain_timeout_s or None, lifespan="on")


def _api_key(app: Any, config: ServeConfig | None = None) -> str | None:
    """The key the app enforces: the one in the app's own config (``create_app`` stores it), which is what
    the Guard checks, whatever config is passed beside it."""
    state = getattr(app, "state", None)
    app_config = getattr(state, "config", None) if state is not None else None
    return getattr(app_config or config, "api_key", None)


class ServerThread:
    """A real uvicorn server on 127.0.0.1 in a background thread, on a port the OS picked.

    >>> with ServerThread(create_app(reward)) as server:  # doctest: +SKIP
    ...     httpx.post(server.url + "/v1/score", json=...)
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0,
                 insecure: bool = False):
        check_bind(host, _api_key(app), insecure)
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        import uvicorn

        # proto must be IPPROTO_TCP, not 0: asyncio only sets TCP_NODELAY on accepted sockets whose proto says
        # TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"rewardlab-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start within {self.startup_timeout} s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

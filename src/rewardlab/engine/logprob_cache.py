"""An on-disk cache of per-token log-probs, keyed by model weights and the exact token ids scored.

A reference model never changes while its policy does, so its log-probs are computed once per text and
read back afterwards: a warm cache means the reference model is not even loaded. One SQLite file holds
the entries: writes are transactions, so several scoring processes (or DDP ranks) can share one cache
without corrupting it or losing entries, and readers never see half-written rows.

Key: sha256 over the model id (weights sha256 + dtype) and the prompt and response token ids. Token ids
rather than raw text, because what the model read (template, bos/eos, truncation) is what the value
depends on.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # keep this module free of torch: cache writers need only sqlite and numpy
    from rewardlab.engine.logprobs import TokenizedSample

_SCHEMA = "CREATE TABLE IF NOT EXISTS logprobs (model TEXT, key TEXT, logps BLOB, PRIMARY KEY (model, key))"
_CHUNK = 400  # stays under SQLite's bound-parameter limit on old builds


def default_cache_path() -> Path:
    """``$REWARDLAB_CACHE/logprobs.sqlite``, else ``~/.cache/rewardlab/logprobs.sqlite``."""
    root = os.environ.get("REWARDLAB_CACHE") or Path.home() / ".cache" / "rewardlab"
    return Path(root) / "logprobs.sqlite"


def item_key(item: TokenizedSample) -> str:
    digest = hashlib.sha256()
    digest.update(np.asarray(item.prompt_ids, dtype=np.int64).tobytes())
    digest.update(b"|")
    digest.update(np.asarray(item.response_ids, dtype=np.int64).tobytes())
    return digest.hexdigest()


class LogProbCache:
    """Get and put float32 per-token log-prob arrays under (model id, item key)."""

    def __init__(self, path: str | Path, timeout: float = 60.0):
        self.path = Path(path)
        self.timeout = timeout
        self.hits = 0
        self.misses = 0
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None

    def _connect(self) -> sqlite3.Connection:
        # A connection must not cross a fork: reopen in each process.
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            self._retry(lambda: conn.execute(_SCHEMA))
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _retry(self, action):
        """SQLite's busy timeout covers most contention; schema/journal changes can still race at creation."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get_many(self, model: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(dict.fromkeys(keys))
        conn = self._connect()
        found: dict[str, np.ndarray] = {}
        for k in range(0, len(keys), _CHUNK):
            chunk = keys[k:k + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._retry(lambda chunk=chunk, marks=marks: conn.execute(
                f"SELECT key, logps FROM logprobs WHERE model = ? AND key IN ({marks})", [model, *chunk]
            ).fetchall())
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype="<f4").astype(np.float64)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, model: str, entries: Mapping[str, np.ndarray]) -> None:
        if not entries:
            return
        conn = self._connect()
        rows = [(model, key, np.asarray(v, dtype="<f4").tobytes()) for key, v in entries.items()]

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR IGNORE INTO logprobs (model, key, logps) VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        self._retry(write)

    def count(self, model: str | None = None) -> int:
        conn = self._connect()
        if model is None:
            return int(conn.execute("SELECT COUNT(*) FROM logprobs").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM logprobs WHERE model = ?", [model]).fetchone()[0])

    def close(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

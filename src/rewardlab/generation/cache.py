"""An on-disk cache of completions, so re-running a judge or a search over an API costs nothing.

Key: sha256 over the backend identity (model, endpoint, namespace), the exact prompt (the string, or the
message list as JSON), the sampling settings a completion depends on (`SamplingParams.cache_fields`) and,
when sampling, the sample index: sample 3 at seed 0 is one entry, whatever ``n`` the caller asked for, so
asking for 8 samples after 4 sends only 4 new requests. Greedy completions have one entry per prompt.

One SQLite file in WAL mode holds the entries: each write is a transaction, so concurrent writers (threads,
processes, DDP ranks) neither corrupt the file nor lose entries, and readers never see half a row. Failed
requests are never cached. Connections are per thread and per process (SQLite handles must not cross
either).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rewardlab.generation.base import Completion

_SCHEMA = "CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
_CHUNK = 400
CACHE_VERSION = 1


def default_cache_path() -> Path:
    """``$REWARDLAB_CACHE/generations.sqlite``, else ``~/.cache/rewardlab/generations.sqlite``."""
    root = os.environ.get("REWARDLAB_CACHE") or Path.home() / ".cache" / "rewardlab"
    return Path(root) / "generations.sqlite"


def completion_key(identity: Mapping[str, Any], prompt: Any, fields: Mapping[str, Any], index: int) -> str:
    """The cache key of sample ``index`` of ``prompt`` (``index`` is ignored when decoding greedily)."""
    greedy = float(fields.get("temperature", 0.0)) <= 0
    blob = json.dumps({"v": CACHE_VERSION, "id": dict(identity), "prompt": prompt, "params": dict(fields),
                       "index": 0 if greedy else index}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class GenerationCache:
    """get/put `Completion`s by key; counts hits and misses."""

    def __init__(self, path: str | Path | None = None, timeout: float = 60.0):
        self.path = Path(path) if path is not None else default_cache_path()
        self.timeout = timeout
        self.hits = 0
        self.misses = 0
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            self._retry(lambda: conn.execute(_SCHEMA))
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _retry(self, action: Any) -> Any:
        """The busy timeout covers most contention; creating the file and the schema can still race."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                transient = "locked" in str(exc) or "busy" in str(exc)
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get_many(self, keys: Iterable[str]) -> dict[str, Completion]:
        keys = list(dict.fromkeys(keys))
        conn = self._connect()
        found: dict[str, Completion] = {}
        for lo in range(0, len(keys), _CHUNK):
            chunk = keys[lo:lo + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._retry(lambda chunk=chunk, marks=marks: conn.execute(
                f"SELECT key, value FROM completions WHERE key IN ({marks})", chunk).fetchall())
            for key, value in rows:
                found[key] = Completion.from_json(json.loads(value), cached=True)
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found

    def put_many(self, entries: Mapping[str, Completion]) -> None:
        rows = [(k, json.dumps(c.to_json(), ensure_ascii=False), time.time()) for k, c in entries.items() if c.ok]
        if not rows:
            return
        conn = self._connect()

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO completions (key, value, created) VALUES (?, ?, ?)", rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        self._retry(write)

    def count(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM completions").fetchone()[0])

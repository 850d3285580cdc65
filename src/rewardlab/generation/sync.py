"""Running a coroutine from synchronous code, including code that is itself inside a running event loop.

``asyncio.run`` refuses to start inside a running loop (a Jupyter cell, an async web handler calling a
sync reward, TRL's async reward path calling a sync helper). There the coroutine runs on a fresh loop in
a worker thread and the caller blocks until it finishes; elsewhere it runs on a fresh loop in this thread.
Either way each call gets its own loop, so clients bound to a loop (httpx.AsyncClient) are created inside
the coroutine and never shared between loops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result (exceptions propagate unchanged)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardlab-sync") as pool:
        return pool.submit(asyncio.run, coro).result()

"""Client-side limits for API backends: requests and tokens per minute, and retry back-off.

Hosted APIs reject bursts with 429; a client that knows its quota spaces requests instead of burning
retries. `RateLimiter` keeps a sliding 60-second window of (time, tokens) per request: a request waits until
both the request count and the token sum (its own estimate included) fit. After the response, `settle`
replaces the estimate with the tokens the server reports. The clock and sleep are injectable so tests
check the arithmetic without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable

WINDOW_S = 60.0
MAX_BACKOFF_S = 30.0


class RateLimiter:
    """At most ``rpm`` requests and ``tpm`` tokens in any 60-second window (None = no limit)."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        if (rpm is not None and rpm <= 0) or (tpm is not None and tpm <= 0):
            raise ValueError("rpm and tpm must be positive")
        self.rpm, self.tpm = rpm, tpm
        self.clock, self.sleep = clock, sleep
        self._events: deque[list[float]] = deque()  # [time, tokens]
        self._lock: asyncio.Lock | None = None
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    async def acquire(self, tokens: int) -> list[float] | None:
        """Wait for room, then record the request; returns a ticket for `settle` (None when unlimited)."""
        if not self.active:
            return None
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one waiter at a time keeps the order fair and the window exact
            while True:
                now = self.clock()
                while self._events and self._events[0][0] <= now - WINDOW_S:
                    self._events.popleft()
                used = sum(e[1] for e in self._events)
                full = self.rpm is not None and len(self._events) >= self.rpm
                heavy = self.tpm is not None and self._events and used + tokens > self.tpm
                if not full and not heavy:
                    ticket = [now, float(tokens)]
                    self._events.append(ticket)
                    return ticket
                wait = self._events[0][0] + WINDOW_S - now
                self.waited_s += wait
                await self.sleep(max(wait, 0.001))

    @staticmethod
    def settle(ticket: list[float] | None, tokens: int | None) -> None:
        if ticket is not None and tokens is not None:
            ticket[1] = float(tokens)


def backoff_delay(attempt: int, base: float, retry_after: str | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): the server's Retry-After when it gives seconds,
    else ``base * 2**attempt`` with up to 25% jitter; never more than `MAX_BACKOFF_S`."""
    if retry_after is not None:
        try:
            return min(MAX_BACKOFF_S, max(0.0, float(retry_after)))
        except ValueError:
            pass  # an HTTP date: fall back to our own schedule
    jitter = 1.0 + 0.25 * (rng or random).random()
    return min(MAX_BACKOFF_S, base * (2 ** attempt) * jitter)

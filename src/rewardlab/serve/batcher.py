"""Dynamic batching: concurrent requests are coalesced into one model call, run off the event loop.

Why: RL clients (OpenRLHF's among them) send one HTTP request per sample. Scoring each alone wastes the
hardware (a batch of one) and, when the model runs inside the async handler, blocks every other request.
Here a request only enqueues its samples and awaits a future; one collector task gathers waiting
requests until a batch is full or the oldest has waited ``max_queue_delay_ms``, and hands the batch to a
single worker thread that owns the model. While the model runs, new requests queue up and form the next
batch, so batch size follows the load by itself.

The queue is bounded (in samples): a full queue raises `QueueFull` at once (the app answers 503 with
Retry-After) instead of letting latency grow without limit. A request that waits longer than its timeout
gets `RequestTimeout` and, if it has not started, its samples are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rewardlab.rewards.base import Reward
from rewardlab.serve.config import CHARS_PER_TOKEN, ServeConfig
from rewardlab.serve.metrics import ServeMetrics
from rewardlab.types import Sample, Score

log = logging.getLogger("rewardlab.serve")


class QueueFull(Exception):
    """The bounded queue cannot take the request now; the client should retry later."""


class ShuttingDown(Exception):
    """The server is draining and takes no new work."""


class RequestTimeout(Exception):
    """The request's scores were not ready within its timeout."""


class ScoringError(Exception):
    """The reward raised while scoring this request's samples (message is safe to show to clients)."""

    def __init__(self, message: str, client_error: bool, error_id: str):
        super().__init__(message)
        self.client_error = client_error
        self.error_id = error_id


@dataclass
class Job:
    samples: list[Sample]
    future: asyncio.Future
    tokens: int
    enqueued: float = field(default_factory=time.perf_counter)
    abandoned: bool = False


def estimate_tokens(sample: Sample) -> int:
    chars = len(sample.prompt_text()) + len(sample.response)
    return max(1, chars // CHARS_PER_TOKEN)


class Batcher:
    """Owns the request queue, the collector task and the model thread of one server."""

    def __init__(self, reward: Reward, config: ServeConfig, metrics: ServeMetrics):
        self.reward = reward
        self.config = config
        self.metrics = metrics
        self._jobs: deque[Job] = deque()
        self._queued_samples = 0
        self._queued_tokens = 0
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False
        self._tokens_seen = _engine_tokens(reward)

    @property
    def queued_samples(self) -> int:
        return self._queued_samples

    async def start(self) -> None:
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rewardlab-model")
        self._task = asyncio.create_task(self._collect(), name="rewardlab-batcher")

    async def stop(self) -> None:
        """Finish what is queued, then stop the collector and the model thread."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, samples: Sequence[Sample], timeout: float | None = None) -> list[Score]:
        """Queue ``samples`` and wait for their scores (in order)."""
        if self._closing or self._wakeup is None:
            raise ShuttingDown("the server is shutting down")
        n = len(samples)
        if self._queued_samples + n > self.config.max_queue_samples:
            raise QueueFull(f"queue full: {self._queued_samples} samples waiting, limit "
                            f"{self.config.max_queue_samples}")
        future = asyncio.get_running_loop().create_future()
        job = Job(list(samples), future, sum(estimate_tokens(s) for s in samples))
        self._jobs.append(job)
        self._queued_samples += n
        self._queued_tokens += job.tokens
        self._update_gauges()
        self._wakeup.set()
        timeout = self.config.request_timeout_s if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=timeout or None)
        except asyncio.TimeoutError:
            job.abandoned = True
            raise RequestTimeout(f"no scores within {timeout:g} s") from None
        except asyncio.CancelledError:
            job.abandoned = True
            raise

    async def _collect(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._jobs:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._wait_until_ready()
            batch = self._take()
            try:
                await self._run(batch)
            except Exception as exc:  # never let the collector die: every later request would hang
                log.exception("batch bookkeeping failed")
                for job in batch:
                    _fail(job, RuntimeError(str(exc)))

    async def _wait_until_ready(self) -> None:
        """Wait until the batch is full, the oldest job has waited long enough, or we are draining."""
        assert self._wakeup is not None
        delay = self.config.max_queue_delay_ms / 1000.0
        while self._jobs and not self._closing and not self._full():
            remaining = self._jobs[0].enqueued + delay - time.perf_counter()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=remaining)
            except asyncio.TimeoutError:
                return

    def _full(self) -> bool:
        return (self._queued_samples >= self.config.max_batch_samples
                or self._queued_tokens >= self.config.max_batch_tokens)

    def _take(self) -> list[Job]:
        """Pop jobs in arrival order up to the batch budget; a job is never split across batches."""
        batch: list[Job] = []
        samples = tokens = 0
        while self._jobs:
            job = self._jobs[0]
            over = (samples + len(job.samples) > self.config.max_batch_samples
                    or tokens + job.tokens > self.config.max_batch_tokens)
            if batch and over:
                break
            self._jobs.popleft()
            self._queued_samples -= len(job.samples)
            self._queued_tokens -= job.tokens
            if job.abandoned:
                continue
            batch.append(job)
            samples += len(job.samples)
            tokens += job.tokens
        self._update_gauges()
        now = time.perf_counter()
        for job in batch:
            self.metrics.queue_wait_seconds.observe(now - job.enqueued)
        return batch

    async def _run(self, batch: list[Job]) -> None:
        if not batch:
            return
        loop = asyncio.get_running_loop()
        samples = [s for job in batch for s in job.samples]
        self.metrics.batch_requests.observe(len(batch))
        self.metrics.batch_samples.observe(len(samples))
        start = time.perf_counter()
        try:
            if hasattr(self.reward, "ascore"):  # judges: the backend's own concurrency, on the server's loop
                scores = self._checked(await self.reward.ascore(samples), samples)
            else:
                scores = await loop.run_in_executor(self._executor, self._score, samples)
        except Exception as exc:  # one bad request must not fail the others: rerun them one by one
            if len(batch) == 1:
                _fail(batch[0], exc)
            else:
                for job in batch:
                    await self._run([job])
            return
        self._record(time.perf_counter() - start, samples)
        offset = 0
        for job in batch:
            n = len(job.samples)
            if not job.future.done():
                job.future.set_result(scores[offset:offset + n])
            offset += n

    def _score(self, samples: list[Sample]) -> list[Score]:
        return self._checked(self.reward.score(samples), samples)

    def _checked(self, scores: list[Score], samples: list[Sample]) -> list[Score]:
        if len(scores) != len(samples):
            raise RuntimeError(f"reward {self.reward.name!r} returned {len(scores)} scores for "
                               f"{len(samples)} samples")
        return scores

    def _record(self, seconds: float, samples: list[Sample]) -> None:
        m = self.metrics
        m.batch_seconds.observe(seconds)
        m.samples.inc(len(samples))
        engine = _engine_tokens(self.reward)
        if engine is not None and self._tokens_seen is not None:
            tokens = engine - self._tokens_seen
            self._tokens_seen = engine
        else:
            tokens = sum(estimate_tokens(s) for s in samples)
        m.tokens.inc(tokens)
        if seconds > 0:
            m.tokens_per_second.set(tokens / seconds)

    def _update_gauges(self) -> None:
        self.metrics.queue_samples.set(self._queued_samples)
        self.metrics.queue_requests.set(len(self._jobs))


def _fail(job: Job, exc: Exception) -> None:
    """A reward that raises ValueError rejects its input (the client's fault); anything else is ours."""
    client_error = isinstance(exc, ValueError)
    error_id = uuid.uuid4().hex[:12]
    if not client_error:
        log.error("scoring failed (error id %s)", error_id, exc_info=exc)
    if not job.future.done() and not job.abandoned:
        job.future.set_exception(ScoringError(f"{type(exc).__name__}: {exc}", client_error, error_id))


def _engine_tokens(reward: Reward) -> int | None:
    """Real tokens counted by the reward's engine, when it keeps `ForwardStats` (classifier rewards)."""
    stats = getattr(reward, "stats", None)
    tokens = getattr(stats, "real_tokens", None)
    return int(tokens) if isinstance(tokens, int) else None

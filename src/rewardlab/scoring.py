"""Scoring many samples with any `Reward`: chunked, spread over processes, resumable, with progress.

Rewards score whole lists (the engine batches inside by token budget); this module cuts the samples into
fixed chunks of consecutive samples. It is the one place the CLI, the evaluation runner, annotation and
the benchmarks call, so chunking never changes a score (the engine is batch- and order-invariant).

Under ``torchrun`` / ``accelerate launch`` (a `ScoringJob` joins the process group) every process scores
its own share of the chunks, dealt by size so the shares take about the same time, and the scores are
gathered back in input order. A chunk is scored by the same call whatever the number of processes, so
N processes give the very bytes one process gives (same hardware and thread count). Each finished chunk
can be written to a checkpoint folder; a job killed at any point and started again with ``resume`` scores
only the chunks that are missing. Chunks are filed under a fingerprint of the samples and the reward's
identity, so a changed input or model never reuses stale scores.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from rewardlab.distributed import Runtime
from rewardlab.progress import progress_bar
from rewardlab.rewards.base import Reward
from rewardlab.shards import ChunkStore, assign_chunks, chunk_bounds, job_key
from rewardlab.types import PairRecord, Sample, Score

CHUNK = 256


@dataclass
class ScoringReport:
    """What happened during one scoring job: counts the summary tables and results.json report."""

    requested: int = 0
    scored: int = 0
    failed: int = 0
    seconds: float = 0.0
    real_tokens: int = 0
    resumed: int = 0
    processes: int = 1

    @property
    def tokens_per_second(self) -> float:
        return self.real_tokens / self.seconds if self.seconds > 0 and self.real_tokens else 0.0

    @property
    def samples_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ScoringJob:
    """Where this process stands in an offline job, and where finished chunks are kept.

    ``runtime``: the process group (None: this process alone). ``checkpoint``: folder for finished chunks
    (None: not resumable). ``resume``: reuse the chunks a killed run of the same job left there.
    ``identity``: what the scores depend on besides the samples (reward spec, weights hash), so a changed
    reward never reuses old chunks.
    """

    runtime: Runtime | None = None
    checkpoint: Path | None = None
    resume: bool = False
    identity: str = ""

    @property
    def rank(self) -> int:
        return self.runtime.rank if self.runtime else 0

    @property
    def world(self) -> int:
        return self.runtime.world if self.runtime else 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.runtime is not None and self.world > 1:
            self.runtime.barrier()



def reward_fingerprint(reward: Reward) -> str:
    """The reward's name plus its weights' sha256 where it has local weights, so a checkpoint made with
    other weights at the same path is never reused (computed once per reward object)."""
    cached = getattr(reward, "_rewardlab_fingerprint", None)
    if cached is not None:
        return cached
    loaded = getattr(reward, "loaded", None)
    digest = getattr(loaded, "weights_sha256", None)
    if digest is None and isinstance(getattr(reward, "path", None), str):
        from rewardlab.engine.loading import weights_hash

        digest = weights_hash(reward.path)
    fingerprint = f"{getattr(reward, 'name', type(reward).__name__)}|weights={digest}"
    with suppress(AttributeError):  # a reward with __slots__ or a frozen dataclass: recomputed next time
        reward._rewardlab_fingerprint = fingerprint  # type: ignore[attr-defined]
    return fingerprint


def spec_device(spec: str) -> str | None:
    """The ``device=`` option of a reward spec, so the process group matches where the reward runs."""
    from rewardlab.rewards.base import parse_options

    return parse_options(spec.partition(":")[2])[1].get("device") if ":" in spec else None


_ACTIVE: ContextVar[ScoringJob | None] = ContextVar("rewardlab_scoring_job", default=None)


def active_job() -> ScoringJob:
    """The job opened by `scoring_job` around this call, else a single-process job with no checkpoint."""
    return _ACTIVE.get() or ScoringJob()


def is_main_process() -> bool:
    """True except on the non-zero ranks of a distributed job: only the main process writes outputs."""
    return active_job().is_main


@contextmanager
def scoring_job(checkpoint: str | Path | None = None, resume: bool = False, identity: str = "",
                device: str | None = None) -> Iterator[ScoringJob]:
    """Join the launcher's processes (one process when run directly) and make every `score_samples` call
    inside share its chunks among them and checkpoint them under ``checkpoint``.

    A checkpoint folder left by an interrupted run is an error unless ``resume`` is given (finished work
    is never thrown away silently). On success the folder is removed; on failure it stays for ``resume``.
    """
    from rewardlab.distributed import join_processes, launched_processes

    runtime = join_processes(device) if launched_processes() > 1 else None
    folder = Path(checkpoint) if checkpoint is not None else None
    job = ScoringJob(runtime, folder, resume, identity)
    if folder is not None and not resume and ChunkStore.holds_work(folder):
        raise FileExistsError(f"{folder} holds the finished chunks of an interrupted run; pass --resume to "
                              "continue it, or delete the folder to start again")
    token = _ACTIVE.set(job)
    try:
        yield job
        job.barrier()
        if folder is not None and job.is_main:
            ChunkStore.remove(folder)
    finally:
        _ACTIVE.reset(token)


def score_samples(
    reward: Reward, samples: Sequence[Sample], description: str = "scoring", show_progress: bool | None = None,
    chunk: int = CHUNK, job: ScoringJob | None = None,
) -> tuple[list[Score], ScoringReport]:
    """Score ``samples``; returns the scores in input order and a report (failures counted, never hidden).

    ``job`` (default: the active `scoring_job`, else this process alone) says which chunks this process
    scores and where finished chunks are kept. Every process of a job must call this with the same samples
    and gets all the scores back.
    """
    job = job or active_job()
    bounds = chunk_bounds(len(samples), chunk)
    mine = assign_chunks([_cost(samples[lo:hi]) for lo, hi in bounds], job.world)[job.rank]
    store = None
    if job.checkpoint is not None:
        key = job_key(job.identity, reward_fingerprint(reward), chunk, samples)
        store = ChunkStore(job.checkpoint, key, len(samples), chunk)
        if job.is_main:
            store.create()
        job.barrier()
    stats = getattr(reward, "stats", None)
    tokens_before = getattr(stats, "real_tokens", 0)
    done: dict[int, list[Score]] = {}
    resumed = 0
    start = time.perf_counter()
    label = description if job.world == 1 else f"{description} (process {job.rank} of {job.world})"
    total = sum(bounds[k][1] - bounds[k][0] for k in mine)
    with progress_bar(label, total=total, enabled=show_progress if job.is_main else False) as bar:
        for k in mine:
            lo, hi = bounds[k]
            part = store.load(k) if store is not None and job.resume else None
            if part is not None:
                resumed += len(part)
            else:
                part = reward.score(samples[lo:hi])
                if len(part) != hi - lo:
                    raise RuntimeError(f"reward {reward.name} returned {len(part)} scores for {hi - lo} samples")
                if store is not None:
                    store.save(k, part)
            done[k] = part
            if bar is not None:
                elapsed = time.perf_counter() - start
                tokens = getattr(stats, "real_tokens", 0) - tokens_before
                scored = sum(len(p) for p in done.values())
                rate = f"{tokens / elapsed:,.0f} tok/s" if tokens else f"{scored / elapsed:,.1f} samples/s"
                bar.update(bar.task_ids[0], advance=len(part), rate=rate)
    tokens = getattr(stats, "real_tokens", 0) - tokens_before
    if job.world > 1:
        gathered = job.runtime.all_gather((done, tokens, resumed))
        done = {k: part for chunks, _, _ in gathered for k, part in chunks.items()}
        tokens, resumed = sum(g[1] for g in gathered), sum(g[2] for g in gathered)
    scores = [score for k in range(len(bounds)) for score in done[k]]
    report = ScoringReport(requested=len(samples), seconds=time.perf_counter() - start, real_tokens=tokens,
                           resumed=resumed, processes=job.world)
    report.failed = sum(1 for s in scores if not s.ok)
    report.scored = len(scores) - report.failed
    return scores, report


def score_pairs(
    reward: Reward, pairs: Sequence[PairRecord], description: str = "scoring pairs",
    show_progress: bool | None = None, chunk: int = CHUNK, job: ScoringJob | None = None,
) -> tuple[list[Score], list[Score], ScoringReport]:
    """Score both sides of every pair in one job (so the engine batches chosen and rejected together)."""
    samples = [s for pair in pairs for s in pair.samples()]
    scores, report = score_samples(reward, samples, description, show_progress, chunk, job)
    return scores[0::2], scores[1::2], report


def _cost(samples: Sequence[Sample]) -> int:
    """Characters in a chunk: a tokenizer-free stand-in for its forward cost, to balance the processes."""
    total = 0
    for s in samples:
        prompt = s.prompt if isinstance(s.prompt, str) else "".join(m.get("content", "") for m in s.prompt)
        total += len(prompt) + len(s.response) + sum(len(t) for t in s.steps or ())
    return total

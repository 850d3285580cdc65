"""Prometheus metrics for one server, in a registry of its own (no process-global state).

Two servers in one process (tests, notebooks) therefore never share or collide on counters.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


class ServeMetrics:
    """Queue depth, batch sizes, tokens/s, latency and errors, exposed at ``GET /metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.queue_samples = Gauge("rewardlab_queue_samples", "Samples waiting for the model.", registry=r)
        self.queue_requests = Gauge("rewardlab_queue_requests", "Requests waiting for the model.", registry=r)
        self.batch_samples = Histogram("rewardlab_batch_samples", "Samples per model call (after coalescing).",
                                       buckets=BATCH_BUCKETS, registry=r)
        self.batch_requests = Histogram("rewardlab_batch_requests", "Requests coalesced into one model call.",
                                        buckets=BATCH_BUCKETS, registry=r)
        self.batch_seconds = Histogram("rewardlab_batch_seconds", "Wall time of one model call.",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.queue_wait_seconds = Histogram("rewardlab_queue_wait_seconds", "Time a request waited in the queue.",
                                            buckets=LATENCY_BUCKETS, registry=r)
        self.samples = Counter("rewardlab_samples", "Samples scored.", registry=r)
        self.tokens = Counter("rewardlab_tokens", "Tokens scored (engine count; chars/4 estimate for rewards "
                                                  "without a tokenizer).", registry=r)
        self.tokens_per_second = Gauge("rewardlab_tokens_per_second", "Tokens per second of the last model call.",
                                       registry=r)
        self.request_seconds = Histogram("rewardlab_request_seconds", "End-to-end latency of scoring requests.",
                                         ["endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.requests = Counter("rewardlab_requests", "HTTP requests by endpoint and status code.",
                                ["endpoint", "status"], registry=r)
        self.errors = Counter("rewardlab_errors", "Failed requests and samples by kind.", ["kind"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

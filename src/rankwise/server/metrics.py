"""Prometheus metrics of one service instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)


class ServiceMetrics:
    def __init__(self, queue_depth: Callable[[], float]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rankwise_requests", "HTTP requests by route and status code", ["route", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "rankwise_request_seconds",
            "Request latency by route",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.batch_pairs = Histogram(
            "rankwise_batch_pairs",
            "Pairs scored per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.documents = Counter("rankwise_documents", "Documents reranked", registry=self.registry)
        self.queue = Gauge("rankwise_queue_pairs", "Pairs queued or being scored", registry=self.registry)
        self.queue.set_function(queue_depth)
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, open fds, CPU seconds
        PlatformCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

"""Prometheus metrics of one service instance (its own registry, so several apps can live in one process),
labelled by the model (or adapter) a request named, so several models in one server are told apart."""

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

UNRESOLVED = ""  # the model label of a request refused before it named a served model (never the client's text)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rankwise_requests",
            "HTTP requests by route, status code and model",
            ["route", "code", "model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rankwise_request_seconds",
            "Request latency by route and model",
            ["route", "model"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.batch_pairs = Histogram(
            "rankwise_batch_pairs",
            "Pairs scored per model call, by loaded model",
            ["model"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.documents = Counter(
            "rankwise_documents", "Documents reranked, by model or adapter", ["model"], registry=self.registry
        )
        self.queue = Gauge(
            "rankwise_queue_pairs", "Pairs queued or being scored, by loaded model", ["model"], registry=self.registry
        )
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, open fds, CPU seconds
        PlatformCollector(registry=self.registry)

    def watch_queue(self, model: str, depth: Callable[[], float]) -> None:
        """Report `depth()` (read at scrape time) as the model's queue."""
        self.queue.labels(model=model).set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)

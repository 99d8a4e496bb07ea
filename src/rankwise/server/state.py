"""The service's typed state: its settings, the models it serves (each with its reranker once loaded, its
batcher, and the LoRA adapters over it), the metrics, and whether it is draining; what every route reads and
`serve` writes (no string-keyed dictionary)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rankwise.io.traffic import TrafficLog
from rankwise.rerankers.base import BaseReranker
from rankwise.server.batcher import MicroBatcher
from rankwise.server.body import JsonLimits
from rankwise.server.metrics import ServiceMetrics


@dataclass
class ServerSettings:
    model_name: str
    max_documents: int = 1000
    max_query_chars: int = 8192
    max_document_chars: int = 32768
    max_batch_pairs: int = 64
    max_wait_ms: float = 5.0
    max_queue_pairs: int = 20000
    retry_after_seconds: int = 1
    api_keys: frozenset[str] = field(default_factory=frozenset)
    max_body_bytes: int | None = None  # None: what the document and query limits allow, plus 1 MiB of JSON
    body_timeout: float = 60.0  # seconds for a whole request body once its headers are in (408 after)
    cors_origins: tuple[str, ...] = ()  # browser origins allowed to call the API (CORS); none by default
    public_docs: bool = False  # with keys: let /docs, /redoc and /openapi.json answer without one
    request_timeout: float | None = 120.0  # seconds from the headers to the answer (504 after); None: no deadline
    max_json_values: int = 100_000  # JSON values (strings, numbers, objects, ...) in one body
    max_json_depth: int = 64  # nesting of objects and arrays in one body
    max_metadata_values: int = 1_000  # values in one document's returned fields (id, metadata, extras)
    max_inflight_bytes: int | None = None  # bodies being received or served at once; None: 8 x body_limit
    max_body_senders: int = 256  # connections sending a body at once; past it, 503 from the headers
    log_requests: Path | None = None  # a folder: every scored request logged for `rankwise replay` (off: None)
    log_sample: float = 1.0  # the share of requests logged

    @property
    def body_limit(self) -> int:
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return self.max_documents * self.max_document_chars + self.max_query_chars + 2**20

    @property
    def inflight_limit(self) -> int:
        return self.max_inflight_bytes if self.max_inflight_bytes is not None else 8 * self.body_limit

    @property
    def json_limits(self) -> JsonLimits:
        return JsonLimits(
            max_bytes=self.body_limit,
            max_values=self.max_json_values,
            max_depth=self.max_json_depth,
            max_documents=self.max_documents,
        )


class ApiError(Exception):
    """An answer other than 200, with the field it is about; every layer raises it, one handler answers it."""

    def __init__(
        self, status: int, message: str, field_path: list[str] | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.field_path, self.headers = status, message, field_path, headers or {}


@dataclass
class LoadedModel:
    """One reranker the service loads, under the name requests pick it by, with its own queue (`batcher`; the
    batchers of every model share one inference thread) and the names of the LoRA adapters attached to it."""

    name: str
    batcher: MicroBatcher
    adapters: tuple[str, ...] = ()
    reranker: BaseReranker | None = None
    load_error: str | None = None


@dataclass(frozen=True)
class Target:
    """What a request's `model` names: a loaded model alone (`adapter` None) or one of its adapters."""

    name: str
    model: LoadedModel
    adapter: str | None = None

    def ready_reranker(self, service: ServiceState) -> BaseReranker:
        if self.model.reranker is None:
            reason = f"failed to load: {self.model.load_error}" if self.model.load_error else "is still loading"
            raise ApiError(503, f"the model {self.model.name!r} {reason}", headers=service.retry_after())
        return self.model.reranker


@dataclass
class ServiceState:
    settings: ServerSettings
    models: dict[str, LoadedModel]  # in the order given; the first answers requests that name no model
    metrics: ServiceMetrics
    draining: bool = False
    on_load_failure: Callable[[], None] | None = None  # set by `serve`: stop the process, /ready would never pass
    stopping: asyncio.Event = field(default_factory=asyncio.Event)  # set: every in-flight request answers 503
    loop: asyncio.AbstractEventLoop | None = None  # the serving loop, for `stop_answering` from other threads
    traffic: TrafficLog | None = None  # `--log-requests`: scored requests written for replay

    @property
    def first(self) -> LoadedModel:
        return next(iter(self.models.values()))

    @property
    def reranker(self) -> BaseReranker | None:
        """The first model's reranker (what a request naming no model gets)."""
        return self.first.reranker

    @property
    def batcher(self) -> MicroBatcher:
        return self.first.batcher

    @property
    def load_error(self) -> str | None:
        return next((f"{m.name}: {m.load_error}" for m in self.models.values() if m.load_error), None)

    @property
    def loaded(self) -> bool:
        return all(m.reranker is not None for m in self.models.values())

    def targets(self) -> dict[str, Target]:
        """Every name a request may give: each model's, then its adapters'."""
        named: dict[str, Target] = {}
        for model in self.models.values():
            named[model.name] = Target(model.name, model)
            named.update({adapter: Target(adapter, model, adapter) for adapter in model.adapters})
        return named

    def target(self, name: str | None) -> Target:
        """The model or adapter a request names (None: the first model); an unknown name is a 404 that lists
        what is served."""
        if name is None:
            return Target(self.first.name, self.first)
        targets = self.targets()
        if name not in targets:
            raise ApiError(
                404, f"model {name!r} is not served here; served: {', '.join(map(repr, targets))}", ["model"]
            )
        return targets[name]

    def retry_after(self) -> dict[str, str]:
        """Seconds until the queued work is likely done (its pairs over the pairs/s measured lately, the
        longest queue of any model), at least `retry_after_seconds`, at most a minute."""
        at_least = self.settings.retry_after_seconds
        return {"Retry-After": str(max(m.batcher.seconds_to_drain(at_least) for m in self.models.values()))}

    def stop_answering(self) -> None:
        """From any thread: every request still in flight answers 503 now and its work is cancelled."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopping.set)

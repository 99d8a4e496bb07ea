"""The service's typed state: its settings, the reranker once loaded, the batcher and the metrics, and
whether it is draining; what every route reads and `serve` writes (no string-keyed dictionary)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rankwise.rerankers.base import BaseReranker
from rankwise.server.batcher import MicroBatcher
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
    request_timeout: float | None = 120.0  # seconds from the body to the answer (504 after); None: no deadline

    @property
    def body_limit(self) -> int:
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return self.max_documents * self.max_document_chars + self.max_query_chars + 2**20


class ApiError(Exception):
    """An answer other than 200, with the field it is about; every layer raises it, one handler answers it."""

    def __init__(self, status: int, message: str, field_path: list[str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field_path, self.headers = status, message, field_path, headers or {}


@dataclass
class ServiceState:
    settings: ServerSettings
    batcher: MicroBatcher
    metrics: ServiceMetrics
    reranker: BaseReranker | None = None
    draining: bool = False
    load_error: str | None = None
    on_load_failure: Callable[[], None] | None = None  # set by `serve`: stop the process, /ready would never pass

    def retry_after(self) -> dict[str, str]:
        return {"Retry-After": str(self.settings.retry_after_seconds)}

    def ready_reranker(self) -> BaseReranker:
        if self.reranker is None:
            raise ApiError(503, "the model is still loading", headers=self.retry_after())
        return self.reranker

"""The FastAPI application: routes, validation and limits, authentication, metrics, readiness, draining."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankwise.backends.interface import TokenCounting
from rankwise.errors import InputError
from rankwise.rerankers.base import BaseReranker
from rankwise.server.batcher import MicroBatcher, Overloaded
from rankwise.server.guard import RequestGuard
from rankwise.server.metrics import ServiceMetrics
from rankwise.server.schemas import (
    ERROR_RESPONSES,
    ApiVersion,
    BilledUnits,
    DocumentObject,
    Meta,
    RerankRequest,
    RerankResponse,
    RerankResult,
    ReturnedDocument,
    TEIRequest,
    TEIResult,
    Usage,
    error_body,
)
from rankwise.types import Candidate, Query, ScoreKind
from rankwise.types import Request as RerankWork

log = logging.getLogger("rankwise.server")
OPEN_PATHS = {"/health", "/ready"}
DOC_PATHS = {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}  # open only with public_docs


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
    def __init__(self, status: int, message: str, field_path: list[str] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.field_path, self.headers = status, message, field_path, headers or {}


def create_app(reranker: BaseReranker | Callable[[], BaseReranker], settings: ServerSettings) -> FastAPI:
    """`reranker` may be a loader: it then runs at startup, and /ready answers 503 until it has finished."""
    state: dict[str, Any] = {"reranker": None, "draining": False}
    metrics = ServiceMetrics(queue_depth=lambda: batcher.queued)  # read at scrape time, after batcher exists
    # Every method goes through `score_requests`: units are whole requests, or slices of one when the
    # method's candidate scores are independent (pointwise), so a big request shares batches fairly.
    batcher = MicroBatcher(lambda units: state["reranker"].score_requests(units), max_batch=settings.max_batch_pairs,
                           max_wait_ms=settings.max_wait_ms, max_queued=settings.max_queue_pairs,
                           on_batch=metrics.batch_pairs.observe, weight=lambda unit: len(unit.candidates))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await batcher.start()
        loading = None
        if isinstance(reranker, BaseReranker):
            state["reranker"] = reranker
        else:  # load in the background: /health answers meanwhile, /ready only once the model can answer
            loading = asyncio.create_task(_load(reranker))
        yield
        if loading is not None and not loading.done():
            loading.cancel()
        await batcher.stop()

    async def _load(loader: Callable[[], BaseReranker]) -> None:
        try:
            state["reranker"] = await batcher.run(loader)
            log.info("ready: %s (%s)", settings.model_name, state["reranker"].method)
        except Exception as e:  # said in /ready, and `serve` stops the process with the reason
            state["load_error"] = f"{type(e).__name__}: {e}"
            log.error("loading %s failed: %s", settings.model_name, state["load_error"])
            if "on_load_failure" in state:
                state["on_load_failure"]()

    app = FastAPI(title="rankwise", version=_version(), lifespan=lifespan,
                  description="Reranking service with Cohere/Jina (`/v1/rerank`, `/v2/rerank`) and TEI (`/rerank`) APIs.")
    app.state.settings = settings
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.runtime = state
    if settings.api_keys:
        _declare_bearer_auth(app)
    # Added before the request-id middleware below, so that one wraps it: refusals get ids and metrics.
    open_paths = OPEN_PATHS | (DOC_PATHS if settings.public_docs else set())
    app.add_middleware(RequestGuard, api_keys=settings.api_keys, open_paths=open_paths,
                       max_body_bytes=settings.body_limit, body_timeout=settings.body_timeout)

    @app.middleware("http")
    async def around(request: Request, call_next):
        request_id = _client_request_id(request.headers.get("x-request-id")) or uuid.uuid4().hex
        request.state.request_id = request_id
        start = time.perf_counter()
        if state["draining"] and request.url.path not in OPEN_PATHS:
            response = _error(503, "the service is shutting down", request_id,
                              headers={"Retry-After": str(settings.retry_after_seconds), "Connection": "close"})
        else:
            try:
                response = await call_next(request)
            except Exception:  # anything unhandled below: a JSON 500 with the id, counted, never plain text
                log.exception("request %s failed", request_id)
                response = _error(500, "internal error; quote the request id when reporting it", request_id)
        route = request.scope.get("route")
        # The documentation routes are plain Starlette routes, which do not set scope["route"].
        label = getattr(route, "path", None) or (request.url.path if request.url.path in DOC_PATHS else "unmatched")
        metrics.requests.labels(route=label, code=str(response.status_code)).inc()
        metrics.latency.labels(route=label).observe(time.perf_counter() - start)
        response.headers["X-Request-ID"] = request_id
        return response

    if settings.cors_origins:  # outermost, so a preflight is answered before authentication
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID"])

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        detail = [{"loc": ["body", *error.field_path], "msg": error.message}] if error.field_path else None
        return _error(error.status, error.message, request.state.request_id, detail=detail, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return _error(error.status_code, str(error.detail), request.state.request_id, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return _error(400, "malformed JSON body", request.state.request_id)
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")
        detail = [{"loc": list(p.get("loc", ())), "msg": p.get("msg"), "type": p.get("type")} for p in problems]
        return _error(422, message, request.state.request_id, detail=detail)

    def ready_reranker() -> BaseReranker:
        if state["reranker"] is None:
            raise ApiError(503, "the model is still loading", headers={"Retry-After": str(settings.retry_after_seconds)})
        return state["reranker"]

    async def scores_for(request: Request, query: str, texts: list[str],
                         field_name: str) -> tuple[list[float], ScoreKind]:
        """The raw score of every text, in order, and what kind of score they are."""
        reranker = ready_reranker()
        _check_encodable(query, texts, field_name)
        work_request = RerankWork(Query("request", query), [Candidate(str(i), t) for i, t in enumerate(texts)])
        work = asyncio.ensure_future(batcher.score(_work_units(reranker, work_request, batcher.chunk)))
        try:
            parts = await _while_client_waits(request, work, settings.request_timeout)
        except Overloaded as e:
            raise ApiError(503, f"overloaded: {e}; retry later",
                           headers={"Retry-After": str(settings.retry_after_seconds)}) from None
        except InputError as e:  # bad input found below the server is the client's problem, not a model failure
            raise ApiError(422, str(e)) from None
        except ApiError:
            raise
        except ClientGone:  # nobody reads this answer; the status (nginx's 499) is for the metrics and the log
            log.info("request %s: client disconnected, its remaining work dropped", request.state.request_id)
            raise ApiError(499, "client closed the request") from None
        except Exception:
            log.exception("request %s: the model failed", request.state.request_id)
            raise ApiError(500, "the model failed while scoring this request") from None
        metrics.documents.inc(len(texts))
        return [score for part in parts for score in part], reranker.score_kind

    def check_common(query: str, count: int) -> None:
        if not query.strip():
            raise ApiError(422, "query is empty", ["query"])
        if len(query) > settings.max_query_chars:
            raise ApiError(413, f"query has {len(query)} characters, over the limit of {settings.max_query_chars}",
                           ["query"])
        if count > settings.max_documents:
            raise ApiError(413, f"{count} documents, over the limit of {settings.max_documents} per request",
                           ["documents"])
        if count > settings.max_queue_pairs:  # a 503 would invite retries that can never succeed
            raise ApiError(413, f"{count} documents can never fit the queue of {settings.max_queue_pairs} pairs; "
                                "split the request", ["documents"])

    @app.get("/health", tags=["service"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["service"])
    async def ready():
        if state["reranker"] is None or state["draining"]:
            reason = "draining" if state["draining"] else state.get("load_error", "loading")
            return _error(503, reason, None,
                          headers={"Retry-After": str(settings.retry_after_seconds)})
        return {"status": "ready", "model": settings.model_name}

    @app.get("/metrics", tags=["service"], response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", tags=["service"])
    async def models() -> dict[str, Any]:
        method = state["reranker"].method if state["reranker"] else None
        return {"object": "list", "data": [{"id": settings.model_name, "object": "model", "method": method}]}

    async def rerank(body: RerankRequest, request: Request, api_version: str) -> RerankResponse:
        check_common(body.query, len(body.documents))
        if not body.documents:
            raise ApiError(422, "documents is empty", ["documents"])
        texts = []
        for i, doc in enumerate(body.documents):
            text = doc.text if isinstance(doc, DocumentObject) else doc
            if not text.strip():
                raise ApiError(422, f"documents[{i}] is empty", ["documents", str(i)])
            text = text[: settings.max_document_chars]
            if body.max_tokens_per_doc is not None:
                text = _cut_to_tokens(_token_counter(state["reranker"]), text, body.max_tokens_per_doc)
            texts.append(text)
        scores, kind = await scores_for(request, body.query, texts, "documents")
        relevance = kind.to_unit_interval(scores)
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        if body.top_n is not None:
            order = order[: body.top_n]
        return_documents = body.return_documents if body.return_documents is not None else api_version == "1"
        results = [RerankResult(index=i, relevance_score=relevance[i],
                                document=_returned(body.documents[i]) if return_documents else None)
                   for i in order]
        meta = Meta(api_version=ApiVersion(version=api_version), score_kind=kind.value,
                    billed_units=BilledUnits(search_units=max(1, math.ceil(len(texts) / 100))))
        return RerankResponse(id=request.state.request_id, model=settings.model_name, results=results, meta=meta,
                              usage=Usage(total_tokens=_token_count(_token_counter(state["reranker"]), body.query, texts)))

    @app.post("/v1/rerank", response_model=RerankResponse, response_model_exclude_none=True, tags=["rerank"],
              responses=ERROR_RESPONSES, summary="Rerank (Cohere v1 / Jina shape; documents returned by default)")
    async def rerank_v1(body: RerankRequest, request: Request) -> RerankResponse:
        return await rerank(body, request, "1")

    @app.post("/v2/rerank", response_model=RerankResponse, response_model_exclude_none=True, tags=["rerank"],
              responses=ERROR_RESPONSES, summary="Rerank (Cohere v2 shape; no documents unless return_documents)")
    async def rerank_v2(body: RerankRequest, request: Request) -> RerankResponse:
        return await rerank(body, request, "2")

    @app.post("/rerank", response_model=list[TEIResult], response_model_exclude_none=True, tags=["rerank"],
              responses=ERROR_RESPONSES)
    async def rerank_tei(body: TEIRequest, request: Request) -> list[TEIResult]:
        check_common(body.query, len(body.texts))
        if not body.texts:
            raise ApiError(422, "texts is empty", ["texts"])
        texts = []
        for i, text in enumerate(body.texts):
            if not text.strip():
                raise ApiError(422, f"texts[{i}] is empty", ["texts", str(i)])
            if len(text) > settings.max_document_chars:
                if not body.truncate:
                    raise ApiError(413, f"texts[{i}] has {len(text)} characters, over the limit of "
                                        f"{settings.max_document_chars} (send truncate=true to cut it)", ["texts", str(i)])
                text = text[: settings.max_document_chars]
            texts.append(text)
        texts = _fit_model_tokens(state["reranker"], body.query, texts, body.truncate)
        scores, kind = await scores_for(request, body.query, texts, "texts")
        values = scores if body.raw_scores else kind.to_unit_interval(scores)
        order = sorted(range(len(texts)), key=lambda i: -scores[i])
        return [TEIResult(index=i, score=values[i], text=texts[i] if body.return_text else None) for i in order]

    return app


def _declare_bearer_auth(app: FastAPI) -> None:
    """Say in the OpenAPI schema that every operation takes a bearer key, so Swagger's Authorize button and
    generated clients send it (the guard enforces it; /health and /ready stay open)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer", "description": "an API key from --api-key-file or $RANKWISE_API_KEYS"}
        schema["security"] = [{"bearer": []}]
        unauthorized = {"description": "missing or wrong API key",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path in OPEN_PATHS:
                    operation["security"] = []
                else:
                    operation.setdefault("responses", {}).setdefault("401", unauthorized)
        return schema

    app.openapi = openapi


def _check_encodable(query: str, texts: list[str], field_name: str) -> None:
    """JSON can carry lone UTF-16 surrogates ("\\ud800") that no tokenizer can encode: refuse the request that
    holds one (422 naming the field) before it shares a batch with anyone else's."""
    for path, text in [(["query"], query), *(([field_name, str(i)], t) for i, t in enumerate(texts))]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            where = path[0] if len(path) == 1 else f"{path[0]}[{path[1]}]"
            raise ApiError(422, f"{where} cannot be encoded as UTF-8: a lone surrogate at character {e.start}",
                           path) from None


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def _while_client_waits(request: Request, work: asyncio.Future, timeout: float | None) -> Any:
    """The result of `work`, cancelled (so its queued pairs are dropped) when the client disconnects (the
    guard's watcher sets `client_gone`) or the request deadline passes."""
    gone: asyncio.Event | None = getattr(request.state, "client_gone", None)
    waiters = {work}
    gone_waiter = asyncio.ensure_future(gone.wait()) if gone is not None else None
    if gone_waiter is not None:
        waiters.add(gone_waiter)
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        if gone_waiter is not None and gone_waiter in done:
            raise ClientGone()
        raise ApiError(504, f"not answered within the request timeout of {timeout:g} s")
    finally:
        for waiter in waiters:
            if not waiter.done():
                waiter.cancel()


def _work_units(reranker: BaseReranker, request: RerankWork, chunk: int) -> list[RerankWork]:
    """The request whole, or cut into slices of at most `chunk` candidates when the method scores each
    candidate on its own (so slices can share batches with other requests without changing a score)."""
    if not reranker.independent_candidates or len(request.candidates) <= chunk:
        return [request]
    return [RerankWork(request.query, request.candidates[i:i + chunk])
            for i in range(0, len(request.candidates), chunk)]


def _returned(document: str | DocumentObject) -> ReturnedDocument:
    """The document as the client sent it: text untruncated, with its id, metadata and other fields."""
    if isinstance(document, DocumentObject):
        return ReturnedDocument(**document.model_dump(exclude_none=True))
    return ReturnedDocument(text=document)


REQUEST_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._:\-]")
MAX_REQUEST_ID = 64


def _client_request_id(value: str | None) -> str | None:
    """A client's X-Request-ID as it is safe to log and echo: characters outside [A-Za-z0-9._:-] dropped
    (no newline can forge a log line), at most 64 kept; None when nothing is left."""
    if not value:
        return None
    return REQUEST_ID_CHARACTERS.sub("", value)[:MAX_REQUEST_ID] or None


def _error(status: int, message: str, request_id: str | None, detail: Any = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, request_id, detail), status_code=status, headers=headers)


def _token_counter(reranker: BaseReranker | None) -> TokenCounting | None:
    """The model's tokenizer, when the reranker is loaded and its backend counts tokens."""
    return reranker.token_counter if reranker is not None else None


def _token_count(counter: TokenCounting | None, query: str, texts: list[str]) -> int:
    """Model tokens of the query and every text (Jina's `usage.total_tokens`); whitespace words for a
    backend without a local tokenizer."""
    if counter is None:
        return len(query.split()) + sum(len(t.split()) for t in texts)
    return sum(counter.count_tokens([query, *texts]))


def _cut_to_tokens(counter: TokenCounting | None, text: str, max_tokens: int) -> str:
    if counter is None:
        return " ".join(text.split()[:max_tokens])
    return counter.cut_to_tokens(text, max_tokens)


PAIR_SPECIAL_TOKENS = 3  # [CLS] query [SEP] text [SEP]: what a pair input adds around the two texts


def _fit_model_tokens(reranker: BaseReranker | None, query: str, texts: list[str], truncate: bool) -> list[str]:
    """TEI's rule, in model tokens: a (query, text) input over the model's limit is 413 unless `truncate`,
    which cuts the text to fit. Only for methods that score each text on its own with a token limit."""
    counter = _token_counter(reranker)
    limit = getattr(counter, "max_length", None)
    if counter is None or limit is None or not reranker.independent_candidates:
        return texts
    query_tokens = counter.count_tokens([query])[0]
    room = limit - query_tokens - PAIR_SPECIAL_TOKENS
    if room < 1:
        raise ApiError(413, f"query has {query_tokens} tokens, leaving no room in the model's limit of {limit}",
                       ["query"])
    fitted = []
    for i, (text, tokens) in enumerate(zip(texts, counter.count_tokens(texts))):
        if tokens > room:
            if not truncate:
                raise ApiError(413, f"texts[{i}] has {tokens} tokens; with the query's {query_tokens} that is over "
                                    f"the model's limit of {limit} (send truncate=true to cut it)", ["texts", str(i)])
            text = counter.cut_to_tokens(text, room)
        fitted.append(text)
    return fitted


def _version() -> str:
    from rankwise import __version__

    return __version__

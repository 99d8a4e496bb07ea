"""The FastAPI application, assembled: the service state, the lifespan that loads the model, the middleware
(authentication and body limits, request ids, metrics, draining, CORS), one error shape for every layer, and
the routers (`routes_cohere`, `routes_tei` (TEI and Jina on /rerank), `routes_vllm` (/score), `routes_voyage`,
`routes_service`). A new route is one function in a router."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankwise.io.traffic import TrafficLog
from rankwise.rerankers.base import BaseReranker
from rankwise.server import docs, routes_cohere, routes_service, routes_tei, routes_vllm, routes_voyage
from rankwise.server.batcher import MicroBatcher
from rankwise.server.guard import RequestGuard
from rankwise.server.metrics import ServiceMetrics
from rankwise.server.schemas import error_response
from rankwise.server.state import ApiError, ServerSettings, ServiceState

__all__ = ["ApiError", "ServerSettings", "create_app"]

log = logging.getLogger("rankwise.server")
OPEN_PATHS = {"/health", "/ready"}
DOC_PATHS = docs.PATHS  # open only with public_docs


def create_app(reranker: BaseReranker | Callable[[], BaseReranker], settings: ServerSettings) -> FastAPI:
    """`reranker` may be a loader: it then runs at startup, and /ready answers 503 until it has finished."""
    metrics = ServiceMetrics(queue_depth=lambda: service.batcher.queued)  # read at scrape time
    # Every method goes through `scored_requests`: units are whole requests, or slices of one when the
    # method's candidate scores are independent (pointwise), so a big request shares batches fairly.
    batcher = MicroBatcher(
        lambda units: service.ready_reranker().scored_requests(units),
        max_batch=settings.max_batch_pairs,
        max_wait_ms=settings.max_wait_ms,
        max_queued=settings.max_queue_pairs,
        on_batch=metrics.batch_pairs.observe,
        weight=lambda unit: len(unit.candidates),
    )
    traffic = TrafficLog(settings.log_requests, settings.log_sample) if settings.log_requests is not None else None
    service = ServiceState(settings=settings, batcher=batcher, metrics=metrics, traffic=traffic)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.loop = asyncio.get_running_loop()
        await batcher.start()
        loading = None
        if isinstance(reranker, BaseReranker):
            service.reranker = reranker
        else:  # load in the background: /health answers meanwhile, /ready only once the model can answer
            loading = asyncio.create_task(_load(service, reranker))
        yield
        if loading is not None and not loading.done():
            loading.cancel()
        await batcher.stop()

    app = FastAPI(
        title="rankwise",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="Reranking service with Cohere/Jina (`/v1/rerank`, `/v2/rerank`) and TEI (`/rerank`) APIs.",
    )
    docs.add_offline_docs(app)
    app.state.service = service
    app.state.batcher = batcher  # kept for tests and tools that watch the queue
    if settings.api_keys:
        _declare_bearer_auth(app)
    _describe_calibration(app, service)
    # Added before the request-id middleware below, so that one wraps it: refusals get ids and metrics.
    open_paths = OPEN_PATHS | (DOC_PATHS if settings.public_docs else set())
    app.add_middleware(
        RequestGuard,
        api_keys=settings.api_keys,
        open_paths=open_paths,
        max_body_bytes=settings.body_limit,
        body_timeout=settings.body_timeout,
        max_inflight_bytes=settings.inflight_limit,
        max_body_senders=settings.max_body_senders,
    )

    @app.middleware("http")
    async def around(request: Request, call_next):
        request_id = client_request_id(request.headers.get("x-request-id")) or uuid.uuid4().hex
        request.state.request_id = request_id
        start = time.perf_counter()
        if service.draining and request.url.path not in OPEN_PATHS:
            response = error_response(
                503,
                "the service is shutting down",
                request_id,
                headers={**service.retry_after(), "Connection": "close"},
            )
        else:
            try:
                response = await call_next(request)
            except Exception:  # anything unhandled below: a JSON 500 with the id, counted, never plain text
                log.exception("request %s failed", request_id)
                response = error_response(500, "internal error; quote the request id when reporting it", request_id)
        route = request.scope.get("route")
        # The documentation routes are plain Starlette routes, which do not set scope["route"].
        label = getattr(route, "path", None) or (request.url.path if request.url.path in DOC_PATHS else "unmatched")
        metrics.requests.labels(route=label, code=str(response.status_code)).inc()
        metrics.latency.labels(route=label).observe(time.perf_counter() - start)
        response.headers["X-Request-ID"] = request_id
        return response

    if settings.cors_origins:  # outermost, so a preflight is answered before authentication
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )

    _add_error_handlers(app)
    for router in (
        routes_service.router,
        routes_cohere.router,
        routes_tei.router,
        routes_vllm.router,
        routes_voyage.router,
    ):
        app.include_router(router)
    return app


async def _load(service: ServiceState, loader: Callable[[], BaseReranker]) -> None:
    try:
        service.reranker = await service.batcher.run(loader)
        log.info("ready: %s (%s)", service.settings.model_name, service.reranker.method)
    except Exception as e:  # said in /ready, and `serve` stops the process with the reason
        service.load_error = f"{type(e).__name__}: {e}"
        log.error("loading %s failed: %s", service.settings.model_name, service.load_error)
        if service.on_load_failure is not None:
            service.on_load_failure()


def _add_error_handlers(app: FastAPI) -> None:
    """Every error, from any layer, in the one JSON shape (`schemas.error_body`)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        detail = [{"loc": ["body", *error.field_path], "msg": error.message}] if error.field_path else None
        return error_response(
            error.status, error.message, request.state.request_id, detail=detail, headers=error.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        return error_response(error.status_code, str(error.detail), request.state.request_id, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error_response(400, "malformed JSON body", request.state.request_id)
        first = problems[0] if problems else {}
        # The body and a shared route's shape tag (/rerank: tei or jina) are not fields the client wrote.
        where = ".".join(str(part) for part in first.get("loc", ()) if part not in BODY_LOCATION_PARTS)
        message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problems)"
        # The first few, never all: a body of a million bad items must not answer with a million errors.
        detail = [
            {"loc": list(p.get("loc", ())), "msg": p.get("msg"), "type": p.get("type")}
            for p in problems[:MAX_ERROR_DETAIL]
        ]
        return error_response(422, message, request.state.request_id, detail=detail)


BODY_LOCATION_PARTS = ("body", "tei", "jina")


def _declare_bearer_auth(app: FastAPI) -> None:
    """Say in the OpenAPI schema that every operation takes a bearer key, so Swagger's Authorize button and
    generated clients send it (the guard enforces it; /health and /ready stay open)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key from --api-key-file or $RANKWISE_API_KEYS",
        }
        schema["security"] = [{"bearer": []}]
        unauthorized = {
            "description": "missing or wrong API key",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path in OPEN_PATHS:
                    operation["security"] = []
                else:
                    operation.setdefault("responses", {}).setdefault("401", unauthorized)
        return schema

    app.openapi = openapi


CALIBRATED_FIELDS = ("min_relevance", "coverage")  # meaningful only for a model served with a calibration
INSTRUCTION_FIELDS = ("instruction",)  # meaningful only for a prompt with an instruction slot


def _describe_calibration(app: FastAPI, service: ServiceState) -> None:
    """The schema a client sees offers `min_relevance` and `coverage` only when the served model is
    calibrated, and `instruction` only when its prompt has an instruction slot (a request sending them to
    another model is refused with a 422 that says why)."""
    import copy

    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        reranker = service.reranker
        if reranker is None:
            return schema
        refused = () if reranker.calibration is not None else CALIBRATED_FIELDS
        refused += () if reranker.takes_instruction else INSTRUCTION_FIELDS
        if not refused:
            return schema
        schema = copy.deepcopy(schema)
        for component in schema.get("components", {}).get("schemas", {}).values():
            for name in refused:
                component.get("properties", {}).pop(name, None)
        return schema

    app.openapi = openapi


MAX_ERROR_DETAIL = 10  # validation errors listed in a 422's detail; the message counts the rest

REQUEST_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._:\-]")
MAX_REQUEST_ID = 64


def client_request_id(value: str | None) -> str | None:
    """A client's X-Request-ID as it is safe to log and echo: characters outside [A-Za-z0-9._:-] dropped
    (no newline can forge a log line), at most 64 kept; None when nothing is left."""
    if not value:
        return None
    return REQUEST_ID_CHARACTERS.sub("", value)[:MAX_REQUEST_ID] or None


def _version() -> str:
    from rankwise import __version__

    return __version__

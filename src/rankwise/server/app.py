"""The FastAPI application, assembled: the service state, the lifespan that loads the model, the middleware
(authentication and body limits, request ids, metrics, draining, CORS), one error shape for every layer, and
the routers (`routes_cohere`, `routes_tei` (TEI and Jina on /rerank), `routes_vllm` (/score), `routes_voyage`,
`routes_service`). A new route is one function in a router."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankwise.errors import InputError, ModelNotAvailableError
from rankwise.io.traffic import TrafficLog
from rankwise.rerankers.base import BaseReranker
from rankwise.server import docs, routes_cohere, routes_service, routes_tei, routes_vllm, routes_voyage
from rankwise.server.batcher import MicroBatcher, inference_thread
from rankwise.server.engine import scored_units
from rankwise.server.guard import RequestGuard
from rankwise.server.metrics import UNRESOLVED, ServiceMetrics
from rankwise.server.schemas import error_response
from rankwise.server.state import ApiError, LoadedModel, ServerSettings, ServiceState

__all__ = ["ApiError", "ModelToServe", "ServerSettings", "create_app"]

log = logging.getLogger("rankwise.server")
OPEN_PATHS = {"/health", "/ready"}
DOC_PATHS = docs.PATHS  # open only with public_docs


@dataclass(frozen=True)
class ModelToServe:
    """A model for `create_app`: the name requests pick it by, the reranker or a loader for it (run at
    startup), and the names of the LoRA adapters its load attaches (runtime option `adapters`), each then a
    name requests may pick too."""

    name: str
    reranker: BaseReranker | Callable[[], BaseReranker]
    adapters: tuple[str, ...] = ()


def create_app(
    served: BaseReranker | Callable[[], BaseReranker] | Sequence[ModelToServe], settings: ServerSettings
) -> FastAPI:
    """`served`: one reranker (named `settings.model_name`), a loader for one, or several `ModelToServe`
    (the first answers requests that name no model). Loaders run at startup, one model after another, and
    /ready answers 503 until every one has finished."""
    to_serve = _models_to_serve(served, settings)
    metrics = ServiceMetrics()
    # shared by every model's batcher (one model call at a time); a lifespan shuts it, the next makes another
    inference: list[ThreadPoolExecutor | None] = [inference_thread()]
    models: dict[str, LoadedModel] = {}
    for entry in to_serve:
        score = functools.partial(lambda name, units: scored_units(models[name], units), entry.name)
        batcher = _batcher(entry.name, settings, metrics, inference[0], score)
        models[entry.name] = LoadedModel(entry.name, batcher, entry.adapters)
        metrics.watch_queue(entry.name, lambda batcher=batcher: batcher.queued)
    traffic = TrafficLog(settings.log_requests, settings.log_sample) if settings.log_requests is not None else None
    service = ServiceState(settings=settings, models=models, metrics=metrics, traffic=traffic)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.loop = asyncio.get_running_loop()
        service.stopping, service.draining = asyncio.Event(), False  # this lifespan's, on this loop
        if inference[0] is None:  # a lifespan after an earlier one (a second TestClient, a remount)
            inference[0] = inference_thread()
            for model in models.values():
                model.batcher.attach(inference[0])
        for model in models.values():
            await model.batcher.start()
        loaders = [(models[e.name], e.reranker) for e in to_serve]
        for model, reranker in loaders:
            if isinstance(reranker, BaseReranker):
                model.reranker = _checked_adapters(model, reranker)
        # Load in the background: /health answers meanwhile, /ready only once every model can answer.
        pending = [(m, r) for m, r in loaders if not isinstance(r, BaseReranker)]
        loading = asyncio.create_task(_load_all(service, pending)) if pending else None
        yield
        if loading is not None and not loading.done():
            loading.cancel()
        for model in models.values():
            await model.batcher.stop()
        executor, inference[0] = inference[0], None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

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
    app.state.batcher = service.batcher  # the first model's, kept for tests and tools that watch the queue
    if settings.api_keys:
        _declare_bearer_auth(app)
    _describe_served_models(app, service)
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
        named = getattr(request.state, "model", UNRESOLVED)  # set by a route once the request's model is known
        metrics.requests.labels(route=label, code=str(response.status_code), model=named).inc()
        metrics.latency.labels(route=label, model=named).observe(time.perf_counter() - start)
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


def _models_to_serve(
    served: BaseReranker | Callable[[], BaseReranker] | Sequence[ModelToServe], settings: ServerSettings
) -> list[ModelToServe]:
    if isinstance(served, BaseReranker) or callable(served):
        return [ModelToServe(settings.model_name, served)]
    to_serve = list(served)
    if not to_serve:
        raise InputError("give at least one model to serve")
    names = [entry.name for entry in to_serve] + [a for entry in to_serve for a in entry.adapters]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(
            f"each served model and adapter needs its own name (requests pick them by it); repeated: "
            f"{', '.join(repeated)}"
        )
    return to_serve


def _batcher(
    name: str, settings: ServerSettings, metrics: ServiceMetrics, inference: Any, score: Callable[[list], list]
) -> MicroBatcher:
    # Every method goes through `scored_requests`: units are whole requests, or slices of one when the
    # method's candidate scores are independent (pointwise), so a big request shares batches fairly.
    return MicroBatcher(
        score,
        max_batch=settings.max_batch_pairs,
        max_wait_ms=settings.max_wait_ms,
        max_queued=settings.max_queue_pairs,
        on_batch=metrics.batch_pairs.labels(model=name).observe,
        weight=lambda unit: unit.pairs,
        executor=inference,
    )


def _checked_adapters(model: LoadedModel, reranker: BaseReranker) -> BaseReranker:
    """The reranker, once its attached adapters are the ones the model is served with."""
    attached = reranker.adapters.adapter_names if reranker.adapters is not None else ()
    if tuple(attached) != tuple(model.adapters):
        raise ModelNotAvailableError(
            f"{model.name}: served with adapters {list(model.adapters)} but its reranker carries {list(attached)}; "
            "adapters go on one model loaded by the transformers backend (runtime option adapters), "
            "not on a composition or a served or GGUF model"
        )
    return reranker


async def _load_all(service: ServiceState, loaders: list[tuple[LoadedModel, Callable[[], BaseReranker]]]) -> None:
    for model, loader in loaders:
        try:
            reranker = await model.batcher.run(loader)
            model.reranker = _checked_adapters(model, reranker)
            log.info("ready: %s (%s)", model.name, model.reranker.method)
        except Exception as e:  # said in /ready, and `serve` stops the process with the reason
            model.load_error = f"{type(e).__name__}: {e}"
            log.error("loading %s failed: %s", model.name, model.load_error)
            if service.on_load_failure is not None:
                service.on_load_failure()
            return


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
FEEDBACK_FIELDS = ("feedback",)  # meaningful only for methods that use explicit relevance feedback


def _describe_served_models(app: FastAPI, service: ServiceState) -> None:
    """The schema a client sees offers `min_relevance` and `coverage` only when a served model is calibrated,
    `instruction` only when one's prompt has an instruction slot (a request sending them to a model without
    is refused with a 422 that says why), and `model` as the served names (another is a 404)."""
    import copy

    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        if not service.loaded:
            return schema
        rerankers = [m.reranker for m in service.models.values() if m.reranker is not None]
        refused = () if any(r.calibration is not None for r in rerankers) else CALIBRATED_FIELDS
        refused += () if any(r.takes_instruction for r in rerankers) else INSTRUCTION_FIELDS
        refused += () if any(r.takes_feedback for r in rerankers) else FEEDBACK_FIELDS
        schema = copy.deepcopy(schema)
        for component in schema.get("components", {}).get("schemas", {}).values():
            properties = component.get("properties", {})
            for name in refused:
                properties.pop(name, None)
            if "model" in properties and "anyOf" in properties["model"]:  # a request's model: a served name
                properties["model"]["anyOf"] = [{"enum": list(service.targets())}, {"type": "null"}]
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

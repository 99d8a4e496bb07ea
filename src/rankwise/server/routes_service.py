"""Operations routes: liveness, readiness, Prometheus metrics, the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from rankwise.server.schemas import error_response

router = APIRouter(tags=["service"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request):
    service = request.app.state.service
    if service.reranker is None or service.draining:
        reason = "draining" if service.draining else service.load_error or "loading"
        return error_response(503, reason, None, headers=service.retry_after())
    return {"status": "ready", "model": service.settings.model_name}


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.service.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    service = request.app.state.service
    method = service.reranker.method if service.reranker else None
    return {"object": "list", "data": [{"id": service.settings.model_name, "object": "model", "method": method}]}

"""Operations routes: liveness, readiness, Prometheus metrics, the model list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from rankwise.rerankers.base import BaseReranker
from rankwise.server.engine import CALIBRATED
from rankwise.server.schemas import error_response

router = APIRouter(tags=["service"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request):
    """Ready once every served model has loaded (while not draining)."""
    service = request.app.state.service
    if not service.loaded or service.draining:
        reason = "draining" if service.draining else service.load_error or "loading"
        return error_response(503, reason, None, headers=service.retry_after())
    return {"status": "ready", "model": service.first.name, "models": list(service.targets())}


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.service.metrics.render(), media_type="text/plain; version=0.0.4")


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    """Every name a request's `model` may give (the first answers requests that give none): each model with
    its method and score kind once loaded, and each LoRA adapter with the model it rides on (`parent`)."""
    service = request.app.state.service
    data = []
    for name, target in service.targets().items():
        reranker = target.model.reranker
        data.append(
            {
                "id": name,
                "object": "model",
                "owned_by": "rankwise",
                "method": reranker.method if reranker else None,
                "score_kind": score_kind(reranker) if reranker else None,
                "parent": target.model.name if target.adapter else None,
                "ready": reranker is not None,
            }
        )
    return {"object": "list", "data": data}


def score_kind(reranker: BaseReranker) -> str:
    """What `relevance_score` is for this model: a calibrated probability, else the kind of its scores."""
    return CALIBRATED if reranker.calibration is not None else reranker.score_kind.value

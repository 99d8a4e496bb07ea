"""/rerank: Hugging Face TEI's shape (`texts`) and Jina's, as vLLM serves it there too (`documents`), told
apart by the body (`schemas.SharedRerankRequest`); a body with neither is a 422 naming both."""

from __future__ import annotations

from typing import Union

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from rankwise.server.body import BoundedJsonRoute
from rankwise.server.engine import Scored, answered_in_time, chosen_model, on_inference_thread, scores_for
from rankwise.server.limits import check_calibrated, check_common, checked_texts, fit_model_tokens
from rankwise.server.routes_cohere import rerank as rerank_cohere
from rankwise.server.schemas import (
    ERROR_RESPONSES,
    RerankRequest,
    RerankResponse,
    SharedRerankRequest,
    TEIRequest,
    TEIResult,
)
from rankwise.server.state import ServiceState

router = APIRouter(tags=["rerank"], route_class=BoundedJsonRoute)


@router.post(
    "/rerank",
    response_model=Union[list[TEIResult], RerankResponse],
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Rerank (TEI's shape with texts; Jina's and vLLM's with documents)",
)
async def rerank_shared(body: SharedRerankRequest, request: Request) -> Response:
    if isinstance(body, RerankRequest):  # Jina's shape, documents returned as Jina and vLLM return them
        return await rerank_cohere(body, request, "1")
    service = request.app.state.service
    return await answered_in_time(service, request, _rerank_tei(service, body, request))


async def _rerank_tei(service: ServiceState, body: TEIRequest, request: Request) -> Response:
    settings = service.settings
    check_common(settings, body.query, len(body.texts), "texts")
    target = chosen_model(service, request, body.model)
    reranker = target.ready_reranker(service)
    check_calibrated(body, reranker)
    texts = checked_texts(body.texts, settings, "texts", body.truncate, "send truncate=true to cut it")
    # CPU work off the event loop: fitting texts to the model's tokens on the inference thread (a Hugging Face
    # tokenizer is not safe from two threads), serializing on a worker thread.
    texts = await on_inference_thread(
        target, request, lambda: fit_model_tokens(reranker, body.query, texts, body.truncate)
    )
    scored = await scores_for(
        service,
        target,
        request,
        body.query,
        texts,
        "texts",
        instruction=body.instruction,
        feedback=body.feedback,
        latency_budget_ms=body.latency_budget_ms,
    )
    return await run_in_threadpool(_response, body, texts, scored)


def _response(body: TEIRequest, texts: list[str], scored: Scored) -> Response:
    values = scored.scores if body.raw_scores else scored.relevance
    order = scored.kept(body.min_relevance, body.coverage)
    results = [TEIResult(index=i, score=values[i], text=texts[i] if body.return_text else None) for i in order]
    return Response(TEI_RESULTS.dump_json(results, exclude_none=True), media_type="application/json")


TEI_RESULTS = TypeAdapter(list[TEIResult])

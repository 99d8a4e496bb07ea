"""Voyage AI's rerank shape, on its own path (/voyage/v1/rerank: its `/v1/rerank` is Cohere's here), so the
voyageai SDK works with `base_url="http://HOST:PORT/voyage/v1"`: `top_k`, `truncation` (default true: an
over-long document is cut; false: a 413), `return_documents`; answers `{object: "list", data: [{index,
relevance_score, document?}], model, usage: {total_tokens}}`, best first."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from rankwise.server.body import BoundedJsonRoute
from rankwise.server.engine import answered_in_time, chosen_model, on_inference_thread, scores_for
from rankwise.server.limits import check_common, checked_texts, fit_model_tokens, token_count, token_counter
from rankwise.server.schemas import ERROR_RESPONSES, VoyageRequest, VoyageResponse, VoyageResult, VoyageUsage
from rankwise.server.state import ServiceState

router = APIRouter(tags=["rerank"], route_class=BoundedJsonRoute)
HINT = "send truncation=true to cut it"


@router.post("/voyage/v1/rerank", response_model=VoyageResponse, responses=ERROR_RESPONSES, summary="Rerank (Voyage)")
async def rerank_voyage(body: VoyageRequest, request: Request) -> Response:
    service = request.app.state.service
    return await answered_in_time(service, request, _rerank(service, body, request))


async def _rerank(service: ServiceState, body: VoyageRequest, request: Request) -> Response:
    settings = service.settings
    check_common(settings, body.query, len(body.documents), "documents")
    texts = checked_texts(body.documents, settings, "documents", body.truncation, HINT)
    target = chosen_model(service, request, body.model)
    reranker = target.ready_reranker(service)

    def fitted() -> tuple[list[str], int]:
        cut = fit_model_tokens(reranker, body.query, texts, body.truncation, "documents", HINT)
        return cut, token_count(token_counter(reranker), body.query, cut)

    texts, tokens = await on_inference_thread(target, request, fitted)
    scored = await scores_for(
        service, target, request, body.query, texts, "documents", instruction=body.instruction, feedback=body.feedback
    )
    order = scored.kept(None, None)[: body.top_k]
    relevance = scored.relevance
    answer = VoyageResponse(
        data=[
            VoyageResult(
                index=i, relevance_score=relevance[i], document=body.documents[i] if body.return_documents else None
            )
            for i in order
        ],
        model=target.name,
        usage=VoyageUsage(total_tokens=tokens),
    )
    return await run_in_threadpool(
        lambda: Response(answer.model_dump_json(exclude_none=True), media_type="application/json")
    )

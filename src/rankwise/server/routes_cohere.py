"""The Cohere/Jina rerank routes: /v1/rerank (documents returned by default) and /v2/rerank."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from rankwise.cancellation import check_cancelled
from rankwise.server.body import BoundedJsonRoute
from rankwise.server.engine import Scored, answered_in_time, chosen_model, on_inference_thread, scores_for
from rankwise.server.limits import (
    check_calibrated,
    check_common,
    checked_documents,
    cut_to_tokens,
    token_count,
    token_counter,
    unique_ids,
)
from rankwise.server.schemas import (
    ERROR_RESPONSES,
    ApiVersion,
    BilledUnits,
    DocumentObject,
    Meta,
    ReasoningStep,
    RerankRequest,
    RerankResponse,
    RerankResult,
    ReturnedDocument,
    Usage,
)
from rankwise.server.state import ServerSettings, ServiceState

router = APIRouter(tags=["rerank"], route_class=BoundedJsonRoute)


async def rerank(body: RerankRequest, request: Request, api_version: str) -> Response:
    service = request.app.state.service
    return await answered_in_time(service, request, _rerank(service, body, request, api_version))


async def _rerank(service: ServiceState, body: RerankRequest, request: Request, api_version: str) -> Response:
    settings = service.settings
    check_common(settings, body.query, len(body.documents), "documents")
    target = chosen_model(service, request, body.model)
    reranker = target.ready_reranker(service)
    check_calibrated(body, reranker)
    # Checking and serializing are CPU work over up to ~32 MB of text: they run on a worker thread, so
    # /health and other requests are answered meanwhile. What needs the model's tokenizer runs on the
    # inference thread, in turn with the model: a Hugging Face tokenizer is not safe to call from two threads.
    texts = await run_in_threadpool(checked_texts, body, settings)
    texts, total_tokens = await on_inference_thread(target, request, lambda: tokenized(body, reranker, texts))
    docids = document_ids(body)
    scored = await scores_for(
        service,
        target,
        request,
        body.query,
        texts,
        "documents",
        docids,
        first_stage_scores(body),
        body.instruction,
        body.feedback,
        body.latency_budget_ms,
    )
    return await run_in_threadpool(
        response,
        body,
        request.state.request_id,
        target.name,
        api_version,
        len(texts),
        total_tokens,
        scored,
        docids,
    )


def checked_texts(body: RerankRequest, settings: ServerSettings) -> list[str]:
    """Each document's text, checked and cut (`limits.checked_documents`); what goes back must serialize."""
    return checked_documents(
        [
            (doc.text, {"id": doc.id, "metadata": doc.metadata, **(doc.model_extra or {})})
            if isinstance(doc, DocumentObject)
            else (doc, None)
            for doc in body.documents
        ],
        settings,
    )


def document_ids(body: RerankRequest) -> list[str] | None:
    return unique_ids([doc.id if isinstance(doc, DocumentObject) else None for doc in body.documents])


def first_stage_scores(body: RerankRequest) -> list[float] | None:
    """The documents' first-stage scores (a numeric `score` on every document object), for methods that
    read them (fast-forward, InsertRank's show_first_stage_scores); None when any document lacks one."""
    scores = [
        (doc.model_extra or {}).get("score") if isinstance(doc, DocumentObject) else None for doc in body.documents
    ]
    if any(isinstance(s, bool) or not isinstance(s, (int, float)) for s in scores):
        return None
    return [float(s) for s in scores]


def tokenized(body: RerankRequest, reranker: Any, texts: list[str]) -> tuple[list[str], int]:
    """The texts cut to `max_tokens_per_doc` model tokens when asked, and the request's token count."""
    counter = token_counter(reranker)
    if body.max_tokens_per_doc is not None:
        cut = []
        for text in texts:
            check_cancelled()
            cut.append(cut_to_tokens(counter, text, body.max_tokens_per_doc))
        texts = cut
    return texts, token_count(counter, body.query, texts)


def response(
    body: RerankRequest,
    request_id: str,
    model_name: str,
    api_version: str,
    count: int,
    total_tokens: int,
    scored: Scored,
    docids: list[str] | None = None,
) -> Response:
    """The answer, serialized here (as FastAPI would, without None fields) rather than on the event loop."""
    relevance = scored.relevance
    order = scored.kept(body.min_relevance, body.coverage)
    if body.top_n is not None:
        order = order[: body.top_n]
    return_documents = body.return_documents if body.return_documents is not None else api_version == "1"
    results = [
        RerankResult(
            index=i, relevance_score=relevance[i], document=returned(body.documents[i]) if return_documents else None
        )
        for i in order
    ]
    meta = Meta(
        api_version=ApiVersion(version=api_version),
        score_kind=scored.kind_label,
        billed_units=BilledUnits(search_units=max(1, math.ceil(count / 100))),
    )
    answer = RerankResponse(
        id=request_id,
        model=model_name,
        results=results,
        meta=meta,
        usage=Usage(total_tokens=total_tokens),
        reasoning=reasoning_steps(scored.traces, docids) if body.return_reasoning else None,
    )
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")


@router.post(
    "/v1/rerank",
    response_model=RerankResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Rerank (Cohere v1 / Jina shape; documents returned by default)",
)
async def rerank_v1(body: RerankRequest, request: Request) -> Response:
    return await rerank(body, request, "1")


@router.post(
    "/v2/rerank",
    response_model=RerankResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Rerank (Cohere v2 shape; no documents unless return_documents)",
)
async def rerank_v2(body: RerankRequest, request: Request) -> Response:
    return await rerank(body, request, "2")


# Where each reasoning method's trace keeps its judgments, and what one judgment is about.
REASONING_TRACES = {"reasoning": "passage", "comparisons": "comparison", "windows": "window", "groups": "group"}


def reasoning_steps(traces: list[dict[str, Any]], docids: list[str] | None = None) -> list[ReasoningStep]:
    """The judgments in the work units' traces that reasoned; a passage's `index` is its document's."""
    position = {d: i for i, d in enumerate(docids)} if docids is not None else None
    steps = []
    for trace in traces:
        for key, unit in REASONING_TRACES.items():
            for entry in trace.get(key) or []:
                if isinstance(entry, dict) and "reasoning" in entry:
                    docid = entry.get("docid")
                    index = None if docid is None else position[docid] if position is not None else int(docid)
                    steps.append(
                        ReasoningStep(
                            unit=unit,
                            index=index,
                            reasoning=entry["reasoning"],
                            reasoning_tokens=entry.get("reasoning_tokens", 0),
                            ended=entry.get("ended", "none"),
                        )
                    )
    return steps


def returned(document: str | DocumentObject) -> ReturnedDocument:
    """The document as the client sent it: text untruncated, with its id, metadata and other fields."""
    if isinstance(document, DocumentObject):
        return ReturnedDocument(**document.model_dump(exclude_none=True))
    return ReturnedDocument(text=document)

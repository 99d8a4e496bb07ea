"""The Cohere/Jina rerank routes: /v1/rerank (documents returned by default) and /v2/rerank."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Request

from rankwise.server.engine import scores_for
from rankwise.server.limits import (
    check_common,
    check_returnable,
    check_text,
    cut_to_tokens,
    token_count,
    token_counter,
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

router = APIRouter(tags=["rerank"])


async def rerank(body: RerankRequest, request: Request, api_version: str) -> RerankResponse:
    service = request.app.state.service
    settings = service.settings
    check_common(settings, body.query, len(body.documents), "documents")
    texts = []
    for i, doc in enumerate(body.documents):
        text = doc.text if isinstance(doc, DocumentObject) else doc
        check_text(text, "documents", i)
        if isinstance(doc, DocumentObject):  # what goes back must serialize: checked before any work
            check_returnable({"id": doc.id, "metadata": doc.metadata, **(doc.model_extra or {})},
                             ["documents", str(i)])
        text = text[: settings.max_document_chars]
        if body.max_tokens_per_doc is not None:
            text = cut_to_tokens(token_counter(service.reranker), text, body.max_tokens_per_doc)
        texts.append(text)
    scored = await scores_for(service, request, body.query, texts, "documents")
    scores, kind = scored.scores, scored.kind
    relevance = kind.to_unit_interval(scores)
    order = sorted(range(len(texts)), key=lambda i: -scores[i])
    if body.top_n is not None:
        order = order[: body.top_n]
    return_documents = body.return_documents if body.return_documents is not None else api_version == "1"
    results = [RerankResult(index=i, relevance_score=relevance[i],
                            document=returned(body.documents[i]) if return_documents else None)
               for i in order]
    meta = Meta(api_version=ApiVersion(version=api_version), score_kind=kind.value,
                billed_units=BilledUnits(search_units=max(1, math.ceil(len(texts) / 100))))
    return RerankResponse(id=request.state.request_id, model=settings.model_name, results=results, meta=meta,
                          usage=Usage(total_tokens=token_count(token_counter(service.reranker), body.query, texts)),
                          reasoning=reasoning_steps(scored.traces) if body.return_reasoning else None)


@router.post("/v1/rerank", response_model=RerankResponse, response_model_exclude_none=True, responses=ERROR_RESPONSES,
             summary="Rerank (Cohere v1 / Jina shape; documents returned by default)")
async def rerank_v1(body: RerankRequest, request: Request) -> RerankResponse:
    return await rerank(body, request, "1")


@router.post("/v2/rerank", response_model=RerankResponse, response_model_exclude_none=True, responses=ERROR_RESPONSES,
             summary="Rerank (Cohere v2 shape; no documents unless return_documents)")
async def rerank_v2(body: RerankRequest, request: Request) -> RerankResponse:
    return await rerank(body, request, "2")


# Where each reasoning method's trace keeps its judgments, and what one judgment is about.
REASONING_TRACES = {"reasoning": "passage", "comparisons": "comparison", "windows": "window", "groups": "group"}


def reasoning_steps(traces: list[dict[str, Any]]) -> list[ReasoningStep]:
    """The judgments in the work units' traces that reasoned; a passage's `index` is its document's."""
    steps = []
    for trace in traces:
        for key, unit in REASONING_TRACES.items():
            for entry in trace.get(key) or []:
                if isinstance(entry, dict) and "reasoning" in entry:
                    docid = entry.get("docid")
                    steps.append(ReasoningStep(unit=unit, index=int(docid) if docid is not None else None,
                                               reasoning=entry["reasoning"],
                                               reasoning_tokens=entry.get("reasoning_tokens", 0),
                                               ended=entry.get("ended", "none")))
    return steps


def returned(document: str | DocumentObject) -> ReturnedDocument:
    """The document as the client sent it: text untruncated, with its id, metadata and other fields."""
    if isinstance(document, DocumentObject):
        return ReturnedDocument(**document.model_dump(exclude_none=True))
    return ReturnedDocument(text=document)

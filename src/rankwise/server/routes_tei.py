"""The Hugging Face TEI rerank route: /rerank."""

from __future__ import annotations

from fastapi import APIRouter, Request

from rankwise.server.engine import scores_for
from rankwise.server.limits import check_common, check_text, fit_model_tokens
from rankwise.server.schemas import ERROR_RESPONSES, TEIRequest, TEIResult
from rankwise.server.state import ApiError

router = APIRouter(tags=["rerank"])


@router.post("/rerank", response_model=list[TEIResult], response_model_exclude_none=True, responses=ERROR_RESPONSES)
async def rerank_tei(body: TEIRequest, request: Request) -> list[TEIResult]:
    service = request.app.state.service
    settings = service.settings
    check_common(settings, body.query, len(body.texts), "texts")
    texts = []
    for i, text in enumerate(body.texts):
        check_text(text, "texts", i)
        if len(text) > settings.max_document_chars:
            if not body.truncate:
                raise ApiError(413, f"texts[{i}] has {len(text)} characters, over the limit of "
                                    f"{settings.max_document_chars} (send truncate=true to cut it)", ["texts", str(i)])
            text = text[: settings.max_document_chars]
        texts.append(text)
    texts = fit_model_tokens(service.reranker, body.query, texts, body.truncate)
    scored = await scores_for(service, request, body.query, texts, "texts")
    scores, kind = scored.scores, scored.kind
    values = scores if body.raw_scores else kind.to_unit_interval(scores)
    order = sorted(range(len(texts)), key=lambda i: -scores[i])
    return [TEIResult(index=i, score=values[i], text=texts[i] if body.return_text else None) for i in order]

"""Request and response bodies of the two API shapes: Cohere v2 / Jina (`/v1/rerank`, `/v2/rerank`) and
Hugging Face TEI (`/rerank`)."""

from __future__ import annotations

from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class DocumentObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: StrictStr
    id: Optional[StrictStr] = None
    metadata: Optional[dict[str, Any]] = None


class RerankRequest(BaseModel):
    """Cohere v2 / Jina rerank request. Unknown fields are ignored, as those services do."""

    model_config = ConfigDict(extra="ignore")
    model: Optional[str] = Field(None, description="Ignored: the service answers with the model it serves.")
    # Strict types: "1", true or "false" where a number or a boolean belongs is a 422, not coerced.
    query: StrictStr
    documents: list[Union[StrictStr, DocumentObject]]
    top_n: Optional[StrictInt] = Field(None, ge=0)
    return_documents: StrictBool = True
    max_tokens_per_doc: Optional[StrictInt] = Field(None, ge=1, description="Documents are cut to this many "
                                                                      "whitespace-separated words.")


class ReturnedDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: Optional[ReturnedDocument] = None


class BilledUnits(BaseModel):
    search_units: int


class Meta(BaseModel):
    billed_units: BilledUnits


class Usage(BaseModel):
    total_tokens: int


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]
    meta: Meta
    usage: Usage


class TEIRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: StrictStr
    texts: list[StrictStr]
    raw_scores: StrictBool = False
    return_text: StrictBool = False
    truncate: StrictBool = False


class TEIResult(BaseModel):
    index: int
    score: float
    text: Optional[str] = None


class ErrorBody(BaseModel):
    """Every error the service answers, 4xx and 5xx alike."""

    error: str
    request_id: Optional[str] = None
    detail: Optional[Any] = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [(401, "missing or wrong API key"), (413, "request body over the size cap"),
                                (422, "invalid request: the field and the problem are named"),
                                (503, "overloaded or draining; retry later"), (500, "internal error")]
}

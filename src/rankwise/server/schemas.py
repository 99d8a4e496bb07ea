"""Request and response bodies of the two API shapes: Cohere v2 / Jina (`/v1/rerank`, `/v2/rerank`) and
Hugging Face TEI (`/rerank`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictStr,
    Tag,
    WithJsonSchema,
)

from rankwise.server.visible import VISIBLE_PATTERN

# The schema says what the routes accept (some non-blank text); the routes themselves check it, so that
# the refusal names the field in the service's own words ("documents[2] is empty"), not a regex.
NonBlank = Annotated[StrictStr, Field(json_schema_extra={"minLength": 1, "pattern": VISIBLE_PATTERN})]


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 3 or 3.0, never "3", true or 3.5 (booleans are ints to Python, not to JSON)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


def json_integer(minimum: int) -> Any:
    """An integer of at least `minimum`, declared as such in the schema (pydantic's own `ge` does not reach
    the schema through a before-validator)."""

    def at_least(value: int) -> int:
        if value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value

    return Annotated[
        int,
        BeforeValidator(_json_integer),
        AfterValidator(at_least),
        WithJsonSchema({"type": "integer", "minimum": minimum}),
    ]


def _json_probability(value: Any) -> Any:
    """A JSON number in [0, 1]: never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError("must be in [0, 1]")
    return float(value)


FEEDBACK_HELP = (
    "Indices of the documents the user marked relevant (explicit relevance feedback), for methods that use it "
    "(embedding-prf, maxsim); else a 422."
)
MODEL_HELP = "The served model or LoRA adapter to answer with (see /v1/models); absent: the first served."

JsonProbability = Annotated[
    float, BeforeValidator(_json_probability), WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1})
]
COVERAGE_HELP = (
    "Adaptive cut-off: per query, the shortest prefix that holds a relevant document with this "
    "probability on average over queries (split conformal prediction on the calibration queries); "
    "needs a calibrated model."
)
MIN_RELEVANCE_HELP = (
    "Only results at least this likely to be relevant (possibly none); needs a model served "
    "with a calibration (-O calibration=FILE), refused otherwise."
)


LATENCY_BUDGET_HELP = (
    "Milliseconds from the request's arrival within which a cascade's escalating stages must end: they run "
    "for this request only if it is doubtful and their measured cost fits (a 422 for a model that cannot "
    "trade quality for time)."
)


class DocumentObject(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: NonBlank
    id: Optional[StrictStr] = None
    metadata: Optional[dict[str, Any]] = None


class RerankRequest(BaseModel):
    """Cohere v2 / Jina rerank request. Unknown fields are ignored, as those services do."""

    model_config = ConfigDict(extra="ignore")
    model: Optional[str] = Field(None, description=MODEL_HELP)
    # Strict types: "1", true or "false" where a number or a boolean belongs is a 422, not coerced.
    query: NonBlank
    documents: list[Union[NonBlank, DocumentObject]] = Field(json_schema_extra={"minItems": 1})
    top_n: Optional[json_integer(0)] = None
    return_documents: Optional[StrictBool] = Field(
        None, description="Default: true on /v1/rerank (as Jina), false on /v2/rerank (Cohere v2 returns none)."
    )
    max_tokens_per_doc: Optional[json_integer(1)] = Field(
        None, description="Documents are cut to this many model tokens."
    )

    return_reasoning: Optional[StrictBool] = Field(
        None,
        description="Return what a reasoning method thought (`reasoning`); off by default, and an empty "
        "list for methods that do not reason.",
    )
    min_relevance: Optional[JsonProbability] = Field(None, description=MIN_RELEVANCE_HELP)
    coverage: Optional[JsonProbability] = Field(None, description=COVERAGE_HELP)
    instruction: Optional[NonBlank] = Field(
        None, description="The task instruction for prompts with an instruction slot (Qwen3-Reranker's); else a 422."
    )
    feedback: Optional[list[json_integer(0)]] = Field(
        None, description=FEEDBACK_HELP, json_schema_extra={"maxItems": 1000}
    )
    latency_budget_ms: Optional[json_integer(0)] = Field(None, description=LATENCY_BUDGET_HELP)


class ReturnedDocument(BaseModel):
    """The document as it was sent (not as truncated for the model), with its `id` and `metadata` if any."""

    model_config = ConfigDict(extra="allow")
    text: str
    id: Optional[str] = None
    metadata: Optional[dict[str, Any]] = None


class RerankResult(BaseModel):
    index: int
    relevance_score: float = Field(
        description="In [0, 1]: with a calibration, the probability that the "
        "document is relevant (meta.score_kind calibrated-probability); "
        "else the method's scores mapped monotonically by their kind "
        "(meta.score_kind; see the serving guide)."
    )
    document: Optional[ReturnedDocument] = None


class BilledUnits(BaseModel):
    search_units: int


class ApiVersion(BaseModel):
    version: str


class Meta(BaseModel):
    api_version: ApiVersion
    billed_units: BilledUnits
    score_kind: str = Field(
        description="calibrated-probability, or what the method's raw scores are, which relevance_score is mapped from."
    )


class Usage(BaseModel):
    total_tokens: int


class ReasoningStep(BaseModel):
    """One judgment a reasoning method made: about one passage, a comparison, a window or a group."""

    unit: Literal["passage", "comparison", "window", "group"]
    index: Optional[int] = Field(None, description="The document a passage judgment is about.")
    reasoning: str
    reasoning_tokens: int
    ended: str = Field(
        description="How the thinking ended: model (closed it), budget (cut and closed by the "
        "method), turn or none (no thinking)."
    )


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]
    meta: Meta
    usage: Usage
    reasoning: Optional[list[ReasoningStep]] = None


class TEIRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: Optional[str] = Field(None, description=MODEL_HELP)
    query: NonBlank
    texts: list[NonBlank] = Field(json_schema_extra={"minItems": 1})
    raw_scores: StrictBool = Field(
        False,
        description="false: scores mapped onto [0, 1] by their kind, as "
        "relevance_score on /v1/rerank; true: the method's own scores.",
    )
    return_text: StrictBool = False
    truncate: StrictBool = False
    min_relevance: Optional[JsonProbability] = Field(None, description=MIN_RELEVANCE_HELP)
    coverage: Optional[JsonProbability] = Field(None, description=COVERAGE_HELP)
    instruction: Optional[NonBlank] = Field(
        None, description="The task instruction for prompts with an instruction slot (Qwen3-Reranker's); else a 422."
    )
    feedback: Optional[list[json_integer(0)]] = Field(
        None, description=FEEDBACK_HELP, json_schema_extra={"maxItems": 1000}
    )
    latency_budget_ms: Optional[json_integer(0)] = Field(None, description=LATENCY_BUDGET_HELP)


def _rerank_shape(value: Any) -> str | None:
    """Which shape a /rerank body has: `texts` is TEI's, `documents` Jina's (and vLLM's)."""
    if isinstance(value, dict):
        return "tei" if "texts" in value else "jina" if "documents" in value else None
    return "tei" if isinstance(value, TEIRequest) else "jina" if isinstance(value, RerankRequest) else None


# /rerank takes either shape, told apart by its list's field; a body with neither is a 422 naming both.
SharedRerankRequest = Annotated[
    Union[Annotated[TEIRequest, Tag("tei")], Annotated[RerankRequest, Tag("jina")]],
    Discriminator(
        _rerank_shape,
        custom_error_type="rerank_shape",
        custom_error_message="a /rerank body holds texts (TEI's shape) or documents (Jina's and vLLM's shape)",
    ),
]


NonEmptyTexts = Annotated[list[NonBlank], Field(min_length=1)]


class ScoreRequest(BaseModel):
    """vLLM's score API: `text_1` against `text_2` (one against one, one against many, or many pairs of
    equal count), or the same as `queries` and `documents`; exactly one of the two pairs."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["text_1", "text_2"],
                    "not": {"anyOf": [{"required": ["queries"]}, {"required": ["documents"]}]},
                },
                {
                    "required": ["queries", "documents"],
                    "not": {"anyOf": [{"required": ["text_1"]}, {"required": ["text_2"]}]},
                },
            ]
        },
    )
    model: Optional[str] = Field(None, description=MODEL_HELP)
    # Absent or a text or texts, never null: which pair a body holds is told by which fields it has.
    text_1: Union[NonBlank, NonEmptyTexts] = None  # type: ignore[assignment]
    text_2: Union[NonBlank, NonEmptyTexts] = None  # type: ignore[assignment]
    queries: Union[NonBlank, NonEmptyTexts] = None  # type: ignore[assignment]
    documents: Union[NonBlank, NonEmptyTexts] = None  # type: ignore[assignment]
    truncate_prompt_tokens: Optional[json_integer(-1)] = Field(
        None, description="Texts are cut to this many model tokens (-1: the model's limit)."
    )
    use_activation: Optional[StrictBool] = Field(
        None, description="true (default): scores mapped onto [0, 1] by their kind; false: the method's own scores."
    )
    instruction: Optional[NonBlank] = Field(
        None, description="The task instruction for prompts with an instruction slot (Qwen3-Reranker's); else a 422."
    )


class ScoreData(BaseModel):
    index: int
    object: Literal["score"] = "score"
    score: float


class ScoreUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class ScoreResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ScoreData]
    usage: ScoreUsage


class VoyageRequest(BaseModel):
    """Voyage AI's rerank request (voyageai SDK `Client.rerank`)."""

    model_config = ConfigDict(extra="ignore")
    model: Optional[str] = Field(None, description=MODEL_HELP)
    query: NonBlank
    documents: list[NonBlank] = Field(json_schema_extra={"minItems": 1})
    top_k: Optional[json_integer(1)] = None
    truncation: StrictBool = Field(True, description="false: a document over the limits is a 413 instead of cut.")
    return_documents: StrictBool = False
    instruction: Optional[NonBlank] = Field(
        None, description="The task instruction for prompts with an instruction slot (Qwen3-Reranker's); else a 422."
    )
    feedback: Optional[list[json_integer(0)]] = Field(
        None, description=FEEDBACK_HELP, json_schema_extra={"maxItems": 1000}
    )


class VoyageResult(BaseModel):
    index: int
    relevance_score: float
    document: Optional[str] = None


class VoyageUsage(BaseModel):
    total_tokens: int


class VoyageResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[VoyageResult]
    model: str
    usage: VoyageUsage


class TEIResult(BaseModel):
    index: int
    score: float
    text: Optional[str] = None


ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation",
    431: "headers_too_large",
    499: "client_closed_request",
    500: "internal",
    503: "unavailable",
    504: "timeout",
    505: "http_version_not_supported",
}


class ErrorBody(BaseModel):
    """Every error the service answers, 4xx and 5xx alike, whichever layer refuses the request."""

    error: str = Field(description="What went wrong, naming the field or limit when there is one.")
    type: str = Field(description="A stable code for the status: " + ", ".join(sorted(set(ERROR_TYPES.values()))))
    error_type: str = Field(description="The same code, under the name TEI's error bodies use.")
    request_id: Optional[str] = None
    detail: Optional[Any] = None


def error_response(
    status: int, message: str, request_id: str | None, detail: Any = None, headers: dict[str, str] | None = None
) -> Any:
    """The one JSON shape of every error answer, as a response."""
    from fastapi.responses import JSONResponse

    return JSONResponse(error_body(status, message, request_id, detail), status_code=status, headers=headers)


def error_body(status: int, message: str, request_id: str | None, detail: Any = None) -> dict[str, Any]:
    code = ERROR_TYPES.get(status, "client_error" if status < 500 else "server_error")
    body: dict[str, Any] = {"error": message, "type": code, "error_type": code, "request_id": request_id}
    if detail is not None:
        body["detail"] = detail
    return body


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (400, "malformed JSON or Content-Length"),
        (401, "missing or wrong API key"),
        (404, "the request's model is not served here (the message lists the served ones)"),
        (408, "body not received in time"),
        (413, "request body or a field over a limit"),
        (415, "the body is not JSON"),
        (422, "invalid request: the field and the problem are named"),
        (500, "internal error"),
        (503, "overloaded, loading or draining; retry later"),
        (504, "not answered within the request timeout"),
    ]
}

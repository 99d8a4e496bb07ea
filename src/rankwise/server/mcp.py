"""The MCP server (`rankwise mcp -m SPEC`): a `rerank` tool and a `models` resource over one loaded reranker,
on stdio or streamable HTTP, through the official `mcp` SDK (`MCPServer`).

The tool applies the HTTP service's checks (`server.limits`) with its limits (`ServerSettings`) and answers
a refused call with the same message the service gives, as an MCP tool error (`is_error`, the message in
its content). Scores are read as the service reads them (`engine.Scored`): `relevance_score` in [0, 1] (a
calibrated probability when a calibration is loaded), the method's own `score`, and the score kind. Model
calls run one at a time on a worker thread: a Hugging Face tokenizer is not safe from two threads."""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Literal

from pydantic import BaseModel, Field

from rankwise.errors import InputError
from rankwise.rerankers.base import BaseReranker
from rankwise.server.engine import Scored
from rankwise.server.limits import (
    budget_deadline,
    check_calibrated,
    check_common,
    checked_documents,
    marked_feedback,
    unique_ids,
)
from rankwise.server.state import ApiError, ServerSettings
from rankwise.types import Candidate, Query, Request

MODELS_URI = "rankwise://models"


class McpDocument(BaseModel):
    text: str
    id: str | None = None
    metadata: dict[str, Any] | None = None


class McpResult(BaseModel):
    index: int = Field(description="The document's position in the request.")
    relevance_score: float = Field(
        description="In [0, 1]: a calibrated probability of relevance when the model "
        "has a calibration, else the method's score mapped by its kind."
    )
    score: float = Field(description="The method's own score (see score_kind).")
    document: McpDocument | None = None


class McpRanking(BaseModel):
    model: str
    method: str
    score_kind: str = Field(description="calibrated-probability, or what the method's raw scores are.")
    results: list[McpResult]


class RerankCall(BaseModel):
    """One tool call's arguments, checked as the HTTP service checks a request."""

    query: str
    documents: list[str | McpDocument]
    top_n: int | None = None
    min_probability: float | None = None
    coverage: float | None = None
    return_documents: bool = True
    instruction: str | None = None
    feedback: list[int] | None = None
    latency_budget_ms: int | None = None


def create_mcp_server(reranker: BaseReranker, model_name: str, settings: ServerSettings | None = None) -> Any:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from rankwise import __version__

    settings = settings or ServerSettings(model_name=model_name)
    lock = threading.Lock()
    server = MCPServer(
        name="rankwise",
        version=__version__,
        instructions=f"Rerank documents for a query with {model_name} ({reranker.method}). Call "
        "`rerank` with the query and the candidate documents; the result lists them "
        "best first.",
    )

    @server.tool(
        description="Rerank documents for a query: the documents best first, each with its index in "
        "the request, its relevance in [0, 1] and the method's own score. top_n keeps the "
        "first n; min_probability and coverage (the adaptive cut-off) need a calibrated "
        "model. feedback: indices of documents the user marked relevant, for methods that use "
        "explicit relevance feedback (embedding-prf, maxsim). latency_budget_ms: for a cascade that "
        "escalates doubtful queries, the milliseconds its costlier stages may take."
    )
    async def rerank(
        query: str,
        documents: list[str | McpDocument],
        top_n: int | None = None,
        min_probability: float | None = None,
        coverage: float | None = None,
        return_documents: bool = True,
        instruction: str | None = None,
        feedback: list[int] | None = None,
        latency_budget_ms: int | None = None,
    ) -> McpRanking:
        import anyio

        call = RerankCall(
            query=query,
            documents=documents,
            top_n=top_n,
            min_probability=min_probability,
            coverage=coverage,
            return_documents=return_documents,
            instruction=instruction,
            feedback=feedback,
            latency_budget_ms=latency_budget_ms,
        )
        arrived = time.monotonic()
        try:
            return await anyio.to_thread.run_sync(lambda: answer(reranker, model_name, settings, call, lock, arrived))
        except ApiError as e:
            raise ToolError(e.message) from None
        except InputError as e:
            raise ToolError(str(e)) from None

    @server.resource(
        MODELS_URI,
        name="models",
        mime_type="application/json",
        description="The reranker this server serves: its name, method, score kind and calibration.",
    )
    def models() -> str:
        return json.dumps({"data": [describe(reranker, model_name)]})

    return server


def describe(reranker: BaseReranker, model_name: str) -> dict[str, Any]:
    return {
        "id": model_name,
        "method": reranker.method,
        "score_kind": reranker.score_kind.value,
        "calibrated": reranker.calibration is not None,
    }


def answer(
    reranker: BaseReranker,
    model_name: str,
    settings: ServerSettings,
    call: RerankCall,
    lock: threading.Lock,
    arrived: float | None = None,
) -> McpRanking:
    """The ranking for one call, after the HTTP service's checks (ApiError naming the field otherwise)."""
    check_common(settings, call.query, len(call.documents), "documents")
    check_calibrated(call, reranker, threshold_field="min_probability")
    if call.top_n is not None and call.top_n < 0:
        raise ApiError(422, "top_n: must be >= 0", ["top_n"])
    texts = checked_documents(
        [
            (d.text, {"id": d.id, "metadata": d.metadata}) if isinstance(d, McpDocument) else (d, None)
            for d in call.documents
        ],
        settings,
    )
    ids = unique_ids([d.id if isinstance(d, McpDocument) else None for d in call.documents])
    docids = ids if ids is not None else [str(i) for i in range(len(texts))]
    marked = marked_feedback(reranker, call.feedback, docids)
    query = Query("mcp", call.query, call.instruction, marked)
    deadline = budget_deadline(reranker, call.latency_budget_ms, arrived if arrived is not None else time.monotonic())
    request = Request(query, [Candidate(d, t) for d, t in zip(docids, texts)], deadline=deadline)
    with lock:
        (scored_request,) = reranker.scored_requests([request])
    scored = Scored(scored_request.scores, reranker.score_kind, [scored_request.trace], reranker.calibration)
    order = scored.kept(call.min_probability, call.coverage)
    if call.top_n is not None:
        order = order[: call.top_n]
    relevance = scored.relevance
    results = [
        McpResult(
            index=i,
            relevance_score=relevance[i],
            score=scored.scores[i],
            document=_document(call.documents[i]) if call.return_documents else None,
        )
        for i in order
    ]
    return McpRanking(model=model_name, method=reranker.method, score_kind=scored.kind_label, results=results)


def _document(document: str | McpDocument) -> McpDocument:
    return document if isinstance(document, McpDocument) else McpDocument(text=document)


Transport = Literal["stdio", "streamable-http"]


def run_mcp(server: Any, transport: Transport, host: str = "127.0.0.1", port: int = 8000) -> None:
    if transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host=host, port=port)

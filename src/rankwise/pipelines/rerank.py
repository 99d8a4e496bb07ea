"""Rerank a whole candidate set: groups of queries go to the reranker together, a progress callback
reports each group, and candidates beyond `top_k` keep their first-stage order below the reranked ones
(so nothing the first stage returned is lost from the run). Documents are counted as the reranker reports
it reorders them (`reranked_count`): a method with its own smaller `top_k` is not credited with the rest."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from rankwise.errors import InputError
from rankwise.pipelines.progress import OnProgress
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Ranking, Request, Result


@dataclass
class RerankReport:
    rankings: list[Ranking]
    seconds: float
    documents: int

    @property
    def seconds_per_query(self) -> float:
        return self.seconds / max(len(self.rankings), 1)

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else float("inf")


def rerank_requests(
    reranker: BaseReranker,
    requests: Sequence[Request],
    top_k: int | None = None,
    queries_per_batch: int = 4,
    on_progress: OnProgress | None = None,
    budget_per_query: float | None = None,
) -> RerankReport:
    """Rerank `requests` `queries_per_batch` at a time (each one's first `top_k` candidates, the rest kept
    below in their order). `budget_per_query`: a latency budget in seconds per query, for rerankers that
    trade quality for time (a cascade escalating doubtful queries): each batch may take that times its size."""
    if top_k is not None and top_k < 1:
        raise InputError(f"top_k must be >= 1, got {top_k}")
    if queries_per_batch < 1:
        raise InputError(f"queries_per_batch must be >= 1, got {queries_per_batch}")
    rankings: list[Ranking] = []
    documents = 0
    start = time.perf_counter()
    for offset in range(0, len(requests), queries_per_batch):
        group = list(requests[offset : offset + queries_per_batch])
        heads = [Request(r.query, r.candidates[:top_k] if top_k else r.candidates) for r in group]
        budget = None if budget_per_query is None else budget_per_query * len(group)
        reranked = reranker.rerank_batch(heads, budget=budget)
        for request, head, ranking in zip(group, heads, reranked):
            rankings.append(_append_tail(ranking, request.candidates[len(head.candidates) :]))
            documents += reranker.reranked_count(len(head.candidates))
        if on_progress:
            on_progress(len(group))
    return RerankReport(rankings=rankings, seconds=time.perf_counter() - start, documents=documents)


def _append_tail(ranking: Ranking, tail: Sequence) -> Ranking:
    if not tail:
        return ranking
    floor = min((r.score for r in ranking.results), default=0.0)
    start_rank = len(ranking.results) + 1
    extra = [
        Result(
            docid=c.docid,
            text=c.text,
            score=floor - 1.0 - i,
            rank=start_rank + i,
            metadata={**c.metadata, "reranked": False},
        )
        for i, c in enumerate(tail)
    ]
    return Ranking(
        query=ranking.query, results=ranking.results + extra, trace=ranking.trace, score_kind=ranking.score_kind
    )


def shard_run_text(
    reranker: BaseReranker, requests: list[Request], top_k: int | None, tag: str, queries_per_batch: int
) -> str:
    """A group of queries reranked into TREC run text: what a batch job's worker (local or Ray) sends back."""
    from rankwise.io.trec import run_text

    report = rerank_requests(reranker, requests, top_k=top_k, queries_per_batch=queries_per_batch)
    return run_text(report.rankings, tag)

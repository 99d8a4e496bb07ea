"""What every reranker offers: `rerank` for one query, `rerank_batch` for many."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from rankwise.models.resolve import ModelLocation
from rankwise.types import CandidateLike, Candidate, Query, Ranking, Request


class BaseReranker(ABC):
    method: ClassVar[str]

    def __init__(self, model_label: str):
        self.model_label = model_label

    @classmethod
    @abstractmethod
    def from_model(cls, location: ModelLocation, **options: Any) -> BaseReranker:
        """Build the reranker around a resolved model; unknown options are an error, not ignored."""

    def rerank(
        self, query: Query | str, candidates: Sequence[CandidateLike], top_n: int | None = None, qid: str = "q0"
    ) -> Ranking:
        return self.rerank_batch([Request.build(query, candidates, qid=qid)], top_n=top_n)[0]

    def rerank_batch(self, requests: Sequence[Request], top_n: int | None = None) -> list[Ranking]:
        """Rerank many queries at once; methods batch work across queries where they can."""
        if top_n is not None and top_n < 0:
            raise ValueError(f"top_n must be >= 0, got {top_n}")
        if not requests:
            return []
        start = time.perf_counter()
        rankings = self._rerank(list(requests))
        elapsed = time.perf_counter() - start
        for ranking in rankings:
            ranking.trace.setdefault("method", self.method)
            ranking.trace.setdefault("model", self.model_label)
            ranking.trace["seconds"] = elapsed / len(requests)
        return [r.top(top_n) if top_n is not None else r for r in rankings]

    @abstractmethod
    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        ...

    def describe(self) -> dict[str, Any]:
        """Parameters worth recording next to a run."""
        return {"method": self.method, "model": self.model_label}


def reject_unknown_options(method: str, options: dict[str, Any]) -> None:
    if options:
        raise TypeError(f"method {method!r} got unknown option(s): {', '.join(sorted(options))}")


class PointwiseReranker(BaseReranker):
    """Scores each (query, passage) pair independently, so pairs of all queries share batches."""

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        pairs = [(request.query, candidate) for request in requests for candidate in request.candidates]
        scores = self.score_pairs(pairs) if pairs else []
        rankings, offset = [], 0
        for request in requests:
            count = len(request.candidates)
            rankings.append(Ranking.from_scores(request, scores[offset:offset + count]))
            offset += count
        return rankings

    @abstractmethod
    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        ...

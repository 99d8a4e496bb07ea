"""Cascades: stages that each rerank the top k of the previous stage's ranking (for example MaxSim over
100 candidates, then FIRST over its top 20), so an expensive method is paid only where it matters.

The final order is the last stage's over its head, then each earlier stage's order below the head it
passed on. The stages' scores are of different kinds and scales, so the cascade's score is ordinal
(n - position); each stage's own scores are kept in the trace (`stages`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.errors import InputError
from rankwise.rerankers.base import BaseReranker, shared_token_counter
from rankwise.types import Candidate, Ranking, Request, ScoreKind


class CascadeReranker(BaseReranker):
    method = "cascade"
    score_kind = ScoreKind.ORDINAL

    def __init__(self, stages: Sequence[tuple[BaseReranker, int | None]], model_label: str):
        if not stages:
            raise InputError("a cascade needs at least one stage")
        super().__init__(model_label)
        self.stages = list(stages)
        self.token_counter = shared_token_counter(s for s, _ in self.stages)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        orders: list[list[Candidate]] = [list(r.candidates) for r in requests]
        traces: list[list[dict[str, Any]]] = [[] for _ in requests]
        for reranker, top_k in self.stages:
            heads = [Request(r.query, order[:top_k] if top_k else order) for r, order in zip(requests, orders)]
            for q, ranking in enumerate(reranker.rerank_batch(heads)):
                by_id = {c.docid: c for c in heads[q].candidates}
                head = [by_id[result.docid] for result in ranking.results]
                orders[q] = head + orders[q][len(head) :]
                traces[q].append(
                    {
                        "method": reranker.method,
                        "model": reranker.model_label,
                        "top_k": top_k,
                        "score_kind": ranking.score_kind.value,
                        "scores": {res.docid: res.score for res in ranking.results},
                    }
                )
        rankings = []
        for request, order, trace in zip(requests, orders, traces):
            position = {c.docid: i for i, c in enumerate(request.candidates)}
            n = len(order)
            rankings.append(
                Ranking.from_order(
                    request,
                    [position[c.docid] for c in order],
                    [float(n - i) for i in range(n)],
                    trace={"stages": trace},
                )
            )
        return rankings

    def reranked_count(self, candidates: int) -> int:
        first, top_k = self.stages[0]
        return first.reranked_count(min(candidates, top_k) if top_k else candidates)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "stages": [{**s.describe(), "top_k": k} for s, k in self.stages]}

"""Bi-encoder reranking with pseudo-relevance feedback in embedding space (Rocchio): the query vector is
moved towards the mean of its top `prf_k` passages, q' = q + prf_beta * mean(top-k), and every candidate
is scored by its cosine with q'. With explicit feedback (a request's `feedback`: candidates the user marked
relevant), those passages are the feedback instead of the top `prf_k`.

It needs a query's whole candidate list at once (the feedback passages are that query's best), so it is
a listwise method, not pair scoring: splitting a query's candidates would change its scores. It costs the
same encoder passes as `embedding` plus a matrix product. Defaults (k=3, beta=1) were chosen by
cross-validation on TREC DL 2021 (BM25 top-100: nDCG@10 0.5785 -> 0.5992); never on DL 2019."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, Embedder
from rankwise.models.registry import TEXT_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.embedding.bi_encoder import EmbeddingOptions
from rankwise.rerankers.embedding.passage_vectors import (
    PassageVectors,
    feedback_passages,
    per_request_vectors,
    prefix_for,
)
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class EmbeddingPRFOptions(EmbeddingOptions):
    prf_k: int = option(3, minimum=0, help="feedback passages: the query's top k by cosine")
    prf_beta: float = option(1.0, minimum=0, help="weight of the feedback centroid")


class EmbeddingPRFReranker(BaseReranker):
    model_kinds = (TEXT_ENCODER,)
    method = "embedding-prf"
    requires = frozenset({Capability.EMBED})
    Options = EmbeddingPRFOptions

    score_kind = ScoreKind.COSINE  # with the expanded query vector
    takes_feedback = True

    def __init__(self, encoder: Embedder, model_label: str, options: EmbeddingPRFOptions):
        super().__init__(model_label)
        self.encoder = encoder
        self.prf_k, self.prf_beta = options.prf_k, options.prf_beta
        self.query_prefix = prefix_for(encoder, "query", options.query_prefix)
        self.passage_prefix = prefix_for(encoder, "document", options.passage_prefix)
        self.passages = PassageVectors(encoder, model_label, self.passage_prefix, options.index)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        import numpy as np

        rankings = []
        for request, query, vectors, provenance in per_request_vectors(
            self.encoder, self.query_prefix, self.passages, requests
        ):
            first = vectors @ query
            top, whose = feedback_passages(request, first, self.prf_k)
            if top:
                expanded = query + self.prf_beta * vectors[top].mean(0)
                scores = vectors @ (expanded / max(float(np.linalg.norm(expanded)), 1e-12))
            else:
                scores = first
            rankings.append(
                Ranking.from_scores(
                    request,
                    scores.tolist(),
                    trace={
                        "feedback_docids": [request.candidates[i].docid for i in top],
                        "feedback": whose,
                        **provenance,
                    },
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "prf_k": self.prf_k, "prf_beta": self.prf_beta, **self.passages.describe()}

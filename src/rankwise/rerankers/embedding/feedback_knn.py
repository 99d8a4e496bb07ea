"""Few-shot reranking from explicit relevance feedback by nearest neighbours (Baumgärtner, Ribeiro, Reimers
and Gurevych, EMNLP 2022, "Incorporating Relevance Feedback for Information-Seeking Retrieval using Few-Shot
Document Re-Ranking"; their kNN approach, UKPLab/incorporating-relevance `knn_similarities.py` and
`knn_eval.py`): each candidate's score is the sum (or the max) of its cosines with the query and with every
passage the user marked relevant. The authors' best kNN setting on their four datasets adds the query's
cosine (`use_query=true`) and sums (`aggregate="sum"`).

The feedback passages are candidates of the same request (the request's `feedback`, as `embedding-prf` takes
it); a request without feedback is scored by the query's cosine alone (`trace["feedback"]` is then
"none"). The authors' non-relevant variant (subtracting cosines with passages marked not relevant) needs
negative feedback, which requests do not carry. Cost: the encoder passes of `embedding` plus a matrix product."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, Embedder
from rankwise.models.registry import TEXT_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.embedding.bi_encoder import EmbeddingOptions
from rankwise.rerankers.embedding.passage_vectors import PassageVectors, per_request_vectors, prefix_for
from rankwise.rerankers.shared.feedback import marked_passages
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class FeedbackKnnOptions(EmbeddingOptions):
    aggregate: Literal["sum", "max"] = option("sum", help="how a candidate's cosines are combined")
    use_query: bool = option(True, help="count the query's cosine beside the feedback passages' ones")


class FeedbackKnnReranker(BaseReranker):
    model_kinds = (TEXT_ENCODER,)
    method = "feedback-knn"
    requires = frozenset({Capability.EMBED})
    Options = FeedbackKnnOptions

    score_kind = ScoreKind.ORDINAL  # a sum of cosines: its scale grows with the number of feedback passages
    takes_feedback = True

    def __init__(self, encoder: Embedder, model_label: str, options: FeedbackKnnOptions):
        super().__init__(model_label)
        self.encoder = encoder
        self.aggregate, self.use_query = options.aggregate, options.use_query
        self.query_prefix = prefix_for(encoder, "query", options.query_prefix)
        self.passage_prefix = prefix_for(encoder, "document", options.passage_prefix)
        self.passages = PassageVectors(encoder, model_label, self.passage_prefix, options.index)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        import numpy as np

        rankings = []
        for request, query, vectors, provenance in per_request_vectors(
            self.encoder, self.query_prefix, self.passages, requests
        ):
            feedback = marked_passages(request)
            columns = [vectors @ query] if self.use_query or not feedback else []
            columns += [vectors @ vectors[i] for i in feedback]
            similarities = np.stack(columns, axis=1)
            scores = similarities.sum(1) if self.aggregate == "sum" else similarities.max(1)
            trace = {
                "feedback_docids": [request.candidates[i].docid for i in feedback],
                "feedback": "explicit" if feedback else "none",
                **provenance,
            }
            rankings.append(Ranking.from_scores(request, scores.tolist(), trace=trace))
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "aggregate": self.aggregate,
            "use_query": self.use_query,
            **self.passages.describe(),
        }

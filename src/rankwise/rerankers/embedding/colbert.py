"""ColBERT late interaction with a ColBERT checkpoint's own encoding (projection, markers, query expansion,
skip-list; `backends/colbert.py`): a passage's score is the sum over the query's vectors of each one's best
dot product with the passage's vectors (MaxSim), as PyLate's `colbert_scores`. Not to be confused with
`maxsim`, which reads an ordinary bi-encoder's token states zero-shot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.interface import Capability, MultiVectorEncoder
from rankwise.models.registry import LATE_INTERACTION
from rankwise.options import NoOptions
from rankwise.rerankers.base import PointwiseReranker
from rankwise.types import Candidate, Query, ScoreKind


class ColBERTReranker(PointwiseReranker):
    model_kinds = (LATE_INTERACTION,)
    method = "colbert"
    requires = frozenset({Capability.MULTI_VECTOR})
    # A sum of query_length cosines (PyLate's scale): no probability, and its sigmoid saturates, so APIs that
    # promise [0, 1] see mostly 1.0; raw scores keep the order and the scale.
    score_kind = ScoreKind.UNBOUNDED

    def __init__(self, encoder: MultiVectorEncoder, model_label: str, options: NoOptions):
        super().__init__(model_label)
        self.encoder = encoder

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        texts = list(dict.fromkeys(q.text for q, _ in pairs))
        queries = dict(zip(texts, self.encoder.encode_queries(texts)))
        documents = self.encoder.encode_documents([c.text for _, c in pairs])
        return [
            float((queries[q.text] @ d.T).max(axis=1).sum()) if len(d) else 0.0 for (q, _), d in zip(pairs, documents)
        ]

    def describe(self) -> dict[str, Any]:
        settings = self.encoder.settings
        return {
            **super().describe(),
            "format": settings.source,
            "query_length": settings.query_length,
            "document_length": settings.document_length,
        }

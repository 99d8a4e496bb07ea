"""Bi-encoder reranking: cosine similarity between query and passage embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.encoder import TextEncoder
from rankwise.backends.runtime import RuntimeOptions
from rankwise.models.resolve import ModelLocation
from rankwise.rerankers.base import PointwiseReranker, reject_unknown_options
from rankwise.types import Candidate, Query


class EmbeddingReranker(PointwiseReranker):
    method = "embedding"

    def __init__(self, encoder: TextEncoder, model_label: str, query_prefix: str = "", passage_prefix: str = ""):
        super().__init__(model_label)
        self.encoder = encoder
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    @classmethod
    def from_model(cls, location: ModelLocation, **options: Any) -> EmbeddingReranker:
        runtime = RuntimeOptions.pick(options)
        # Some embedders (E5, BGE) expect instruction prefixes such as "query: ".
        query_prefix = options.pop("query_prefix", "")
        passage_prefix = options.pop("passage_prefix", "")
        reject_unknown_options(cls.method, options)
        return cls(TextEncoder(location, runtime), location.label, query_prefix, passage_prefix)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        query_texts = list(dict.fromkeys(q.text for q, _ in pairs))
        query_vectors = self.encoder.embed_unit([self.query_prefix + t for t in query_texts])
        row_of = {text: i for i, text in enumerate(query_texts)}
        passage_vectors = self.encoder.embed_unit([self.passage_prefix + c.text for _, c in pairs])
        rows = query_vectors[[row_of[q.text] for q, _ in pairs]]
        return (rows * passage_vectors).sum(-1).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pooling": self.encoder.pooling, "max_length": self.encoder.max_length}

"""Bi-encoder reranking: cosine similarity between query and passage embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, Embedder
from rankwise.models.registry import TEXT_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.embedding.passage_vectors import PassageVectors, prefix_for
from rankwise.types import Candidate, Query, ScoreKind


@dataclass(frozen=True)
class EmbeddingOptions:
    # Some embedders (E5, BGE, Qwen3-Embedding) expect instruction prefixes such as "query: "; their folders
    # say so in sentence-transformers' prompts, which are the defaults.
    query_prefix: str | None = option(
        None, help="text put before each query (default: the folder's sentence-transformers query prompt, if any)"
    )
    passage_prefix: str | None = option(
        None, help="text put before each passage (default: the folder's document prompt, if any)"
    )
    index: str | None = option(
        None,
        help="a forward index folder (`rankwise index --encode`): passage vectors "
        "are looked up there instead of encoded; what it lacks is encoded",
    )


class EmbeddingReranker(PointwiseReranker):
    model_kinds = (TEXT_ENCODER,)
    method = "embedding"
    requires = frozenset({Capability.EMBED})
    Options = EmbeddingOptions

    score_kind = ScoreKind.COSINE

    def __init__(self, encoder: Embedder, model_label: str, options: EmbeddingOptions):
        super().__init__(model_label)
        self.encoder = encoder
        self.query_prefix = prefix_for(encoder, "query", options.query_prefix)
        self.passage_prefix = prefix_for(encoder, "document", options.passage_prefix)
        self.passages = PassageVectors(encoder, model_label, self.passage_prefix, options.index)

    def score_pairs_traced(
        self, pairs: Sequence[tuple[Query, Candidate]]
    ) -> tuple[list[float], Callable[[int, int], dict[str, Any]]]:
        query_texts = list(dict.fromkeys(q.text for q, _ in pairs))
        query_vectors = self.encoder.embed_unit([self.query_prefix + t for t in query_texts])
        row_of = {text: i for i, text in enumerate(query_texts)}
        passage_vectors, provenance = self.passages.pooled([c for _, c in pairs])
        rows = query_vectors[[row_of[q.text] for q, _ in pairs]]
        return (rows * passage_vectors).sum(-1).tolist(), provenance.trace

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        return self.score_pairs_traced(pairs)[0]

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "pooling": "+".join(self.encoder.pooling),
            "max_length": self.encoder.max_length,
            **self.passages.describe(),
        }

"""Haystack: `RankwiseRanker`, a ranker component (`run(query, documents, top_k)`) for a retrieval pipeline,
like Haystack's own rankers, serializable with `to_dict` / `from_dict` (so pipelines save to YAML).

    from rankwise.integrations.haystack import RankwiseRanker
    pipeline.add_component("ranker", RankwiseRanker(model="minilm-embed", top_k=3))
    pipeline.connect("retriever.documents", "ranker.documents")

Each returned document is a copy with `score` set to the relevance in [0, 1] (mapped from the method's own
score by its kind, kept in `meta["rankwise_score"]`)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

from haystack import Document, component, default_from_dict, default_to_dict

from rankwise.integrations._shared import LazyReranker, rerank_texts
from rankwise.rerankers.base import BaseReranker


@component
class RankwiseRanker(LazyReranker):
    def __init__(
        self,
        model: str = "minilm-embed",
        method: Optional[str] = None,
        top_k: Optional[int] = 10,
        options: Optional[dict[str, Any]] = None,
        min_probability: Optional[float] = None,
        coverage: Optional[float] = None,
        instruction: Optional[str] = None,
    ):
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        self.model, self.method, self.top_k, self.options = model, method, top_k, dict(options or {})
        # with a calibration (options={"calibration": FILE}): a probability floor, an adaptive prefix
        self.min_probability, self.coverage = min_probability, coverage
        self.instruction = instruction  # for prompts with an instruction slot (Qwen3-Reranker's)
        self._reranker: Optional[BaseReranker] = None

    def to_dict(self) -> dict[str, Any]:
        return default_to_dict(
            self,
            model=self.model,
            method=self.method,
            top_k=self.top_k,
            options=self.options,
            min_probability=self.min_probability,
            coverage=self.coverage,
            instruction=self.instruction,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RankwiseRanker:
        return default_from_dict(cls, data)

    @component.output_types(documents=list[Document])
    def run(
        self,
        query: str,
        documents: list[Document],
        top_k: Optional[int] = None,
        min_probability: Optional[float] = None,
    ) -> dict[str, list[Document]]:
        kept = rerank_texts(
            self.reranker,
            query,
            [d.content or "" for d in documents],
            top_k if top_k is not None else self.top_k,
            min_probability if min_probability is not None else self.min_probability,
            self.coverage,
            self.instruction,
        )
        return {
            "documents": [
                dataclasses.replace(
                    documents[s.index], score=s.relevance, meta={**documents[s.index].meta, "rankwise_score": s.score}
                )
                for s in kept
            ]
        }

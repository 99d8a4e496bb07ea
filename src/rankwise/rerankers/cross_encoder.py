"""Cross-encoder reranking: a sequence-classification model reads query and passage together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.pair_scorer import PairScorer
from rankwise.backends.runtime import RuntimeOptions
from rankwise.models.resolve import ModelLocation
from rankwise.rerankers.base import PointwiseReranker, reject_unknown_options
from rankwise.types import Candidate, Query


class CrossEncoderReranker(PointwiseReranker):
    method = "cross-encoder"

    def __init__(self, scorer: PairScorer, model_label: str):
        super().__init__(model_label)
        self.scorer = scorer

    @classmethod
    def from_model(cls, location: ModelLocation, **options: Any) -> CrossEncoderReranker:
        runtime = RuntimeOptions.pick(options)
        activation = options.pop("activation", "none")
        reject_unknown_options(cls.method, options)
        return cls(PairScorer(location, runtime, activation=activation), location.label)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        return self.scorer.score([q.text for q, _ in pairs], [c.text for _, c in pairs])

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_length": self.scorer.max_length, "activation": self.scorer.activation}

"""Cross-encoder reranking: a sequence-classification model reads query and passage together.

The backend's score is a logit (one-logit head) or log P(relevant) (two-logit head). By default
(`activation="auto"`) the scores are what sentence-transformers' `CrossEncoder.predict` gives for the same
folder: the activation its config names, else a sigmoid over a single logit; a two-logit head gives
log P(relevant) (sentence-transformers returns both logits). `activation="none"` keeps the raw logit,
`"sigmoid"` maps either to a probability in [0, 1] (sigmoid of the logit, exp of the log-probability).
Over-long pairs are cut longest-first, as sentence-transformers does (`truncation="only_second"` keeps the
query whole and cuts the passage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, PairScoring
from rankwise.models.registry import CROSS_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.types import Candidate, Query, ScoreKind


@dataclass(frozen=True)
class CrossEncoderOptions:
    activation: Literal["auto", "none", "sigmoid"] = option(
        "auto", help="auto: the folder's (as sentence-transformers); none: raw logits; sigmoid: in [0, 1]"
    )
    truncation: Literal["longest_first", "only_second"] = option(
        "longest_first",
        help="how an over-long pair is cut: longest_first (sentence-transformers) or only_second (the passage only)",
    )


class CrossEncoderReranker(PointwiseReranker):
    model_kinds = (CROSS_ENCODER,)
    method = "cross-encoder"
    requires = frozenset({Capability.SCORE_PAIRS})
    Options = CrossEncoderOptions

    def __init__(self, scorer: PairScoring, model_label: str, options: CrossEncoderOptions):
        super().__init__(model_label)
        self.scorer = scorer
        self.activation = scorer.folder_activation if options.activation == "auto" else options.activation
        self.truncation = options.truncation
        self.backend_kind = scorer.score_kind
        self.score_kind = ScoreKind.PROBABILITY if self.activation != "none" else self.backend_kind

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        scores = self.scorer.score([q.text for q, _ in pairs], [c.text for _, c in pairs], self.truncation)
        if self.activation == "none":
            return scores
        # a logit's sigmoid, a log-probability's exp: both per score, so pairs of any batch map alike
        return self.backend_kind.to_unit_interval(scores)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "max_length": self.scorer.max_length,
            "activation": self.activation,
            "truncation": self.truncation,
            "backend_score": self.scorer.score_kind,
        }

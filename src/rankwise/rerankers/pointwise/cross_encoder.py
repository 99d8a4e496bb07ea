"""Cross-encoder reranking: a sequence-classification model reads query and passage together.

The backend's score is a logit (one-logit head) or log P(relevant) (two-logit head). By default
(`activation="auto"`) the scores are what sentence-transformers' `CrossEncoder.predict` gives for the same
folder: the activation its config names, else a sigmoid over a single logit; a two-logit head gives
log P(relevant) (sentence-transformers returns both logits). `activation="none"` keeps the raw logit,
`"sigmoid"` maps either to a probability in [0, 1] (sigmoid of the logit, exp of the log-probability).
Over-long pairs are cut longest-first, as sentence-transformers does (`truncation="only_second"` keeps the
query whole and cuts the passage). `query_template` / `passage_template` write each side as a checkpoint was
trained on it (DeAR: "query: ..." and "document:  ...")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, PairScoring
from rankwise.models.registry import CROSS_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts.shapes import check_template
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
    query_template: str = option("{query}", help="the query side as the model reads it, with {query}")
    passage_template: str = option("{passage}", help="the passage side as the model reads it, with {passage}")


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
        check_template(options.query_template, ("query",), "cross-encoder's option query_template")
        check_template(options.passage_template, ("passage",), "cross-encoder's option passage_template")
        self.query_template, self.passage_template = options.query_template, options.passage_template
        self.backend_kind = scorer.score_kind
        self.score_kind = ScoreKind.PROBABILITY if self.activation != "none" else self.backend_kind

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        # str.format reads fields in the template only: braces inside a query or passage stay text.
        queries = [self.query_template.format(query=q.text) for q, _ in pairs]
        passages = [self.passage_template.format(passage=c.text) for _, c in pairs]
        scores = self.scorer.score(queries, passages, self.truncation)
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
            **({"query_template": self.query_template} if self.query_template != "{query}" else {}),
            **({"passage_template": self.passage_template} if self.passage_template != "{passage}" else {}),
            "backend_score": self.scorer.score_kind,
        }

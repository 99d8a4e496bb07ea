"""Pointwise encoder-decoder reranking (monoT5): the model reads "Query: q Document: d Relevant:" and the
score is read from its first decoder step, log P(true) from a softmax over its false and true tokens
(pygaggle's MonoT5, the authors' code) or the true token's raw logit (`score="logit"`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.errors import OptionError
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.types import Candidate, Query, ScoreKind

MONOT5_TEMPLATE = "Query: {query} Document: {passage} Relevant:"


def answer_token_ids(backend: Seq2SeqScoring, answer_tokens: str) -> list[int]:
    """The vocabulary ids of 'FALSE,TRUE' as written in the tokenizer's vocabulary."""
    words = answer_tokens.split(",")
    if len(words) != 2 or not all(words):
        raise OptionError(f"option answer_tokens must be 'FALSE,TRUE' (two vocabulary tokens), got {answer_tokens!r}")
    return [backend.vocabulary_id(word) for word in words]


@dataclass(frozen=True)
class Seq2SeqPointwiseOptions:
    template: str = option(MONOT5_TEMPLATE, help="the source text, with {query} and {passage}")
    answer_tokens: str = option("▁false,▁true", help="'FALSE,TRUE': the vocabulary tokens read at the first "
                                                    "decoder step")
    score: Literal["log-probability", "logit"] = option(
        "log-probability", help="log P(true) over the two tokens, or the true token's raw logit")


class Seq2SeqPointwiseReranker(PointwiseReranker):
    model_kinds = (SEQ2SEQ_LM,)
    method = "seq2seq-pointwise"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = Seq2SeqPointwiseOptions

    def __init__(self, backend: Seq2SeqScoring, model_label: str, template: str = MONOT5_TEMPLATE,
                 answer_tokens: str = "▁false,▁true", score: str = "log-probability"):
        super().__init__(model_label)
        if "{query}" not in template or "{passage}" not in template:
            raise OptionError(f"option template must hold {{query}} and {{passage}}, got {template!r}")
        self.backend, self.template, self.answer_tokens, self.score = backend, template, answer_tokens, score
        self.false_id, self.true_id = answer_token_ids(backend, answer_tokens)
        self.score_kind = ScoreKind.LOG_PROBABILITY if score == "log-probability" else ScoreKind.LOGIT

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        sources = [self.backend.fit_source(lambda p, q=query.text: self.template.format(query=q, passage=p[0]),
                                           [candidate.text], f"passage {candidate.docid!r}")
                   for query, candidate in pairs]
        logits = self.backend.first_step_logits(sources, [self.false_id, self.true_id])
        if self.score == "logit":
            return logits[:, 1].astype(float).tolist()
        import numpy as np

        return (logits[:, 1] - np.logaddexp(logits[:, 0], logits[:, 1])).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "template": self.template, "answer_tokens": self.answer_tokens,
                "score": self.score, "max_length": self.backend.max_length}

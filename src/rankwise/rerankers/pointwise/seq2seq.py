"""Pointwise encoder-decoder reranking: the model reads a source text and the score is read from its first
decoder step. monoT5 reads "Query: q Document: d Relevant:" and scores log P(true) from a softmax over its
false and true tokens (pygaggle's MonoT5, the authors' code), or the true token's raw logit
(`score="raw-logit"`); RankT5 reads "Query: q Document: d" and scores the raw logit of one unused token
(`answer_tokens="<extra_id_10>"`, as lightning-ir's RankT5 strategy does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.errors import OptionError
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts.seq2seq import MONOT5
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.rerankers.shared.answer_tokens import answer_token_ids as shared_answer_token_ids
from rankwise.scoring import log_share
from rankwise.types import Candidate, Query, ScoreKind


def answer_token_ids(backend: Seq2SeqScoring, answer_tokens: str, counts: tuple[int, ...] = (2,)) -> list[int]:
    """The vocabulary ids of 'FALSE,TRUE' (or of one token) as written in the tokenizer's vocabulary."""
    return shared_answer_token_ids(
        answer_tokens, "'FALSE,TRUE'" if counts == (2,) else "'FALSE,TRUE' or 'TOKEN'", backend.vocabulary_id, counts
    )


@dataclass(frozen=True)
class Seq2SeqPointwiseOptions:
    template: str = option(MONOT5, help="the source text, with {query} and {passage}")
    answer_tokens: str = option(
        "▁false,▁true",
        help="'FALSE,TRUE': the vocabulary tokens read at the first "
        "decoder step; or one token, whose raw logit is the score",
    )
    score: Literal["log-probability", "raw-logit"] = option(
        "log-probability", help="log P(true) over the two tokens, or the true (or only) token's raw logit"
    )


class Seq2SeqPointwiseReranker(PointwiseReranker):
    model_kinds = (SEQ2SEQ_LM,)
    method = "seq2seq-pointwise"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = Seq2SeqPointwiseOptions

    def __init__(self, backend: Seq2SeqScoring, model_label: str, options: Seq2SeqPointwiseOptions):
        super().__init__(model_label)
        template, answer_tokens, score = options.template, options.answer_tokens, options.score
        check_template(template, ("query", "passage"), "option template")
        self.backend, self.template, self.answer_tokens, self.score = backend, template, answer_tokens, score
        ids = answer_token_ids(backend, answer_tokens, counts=(1, 2))
        if len(ids) == 1 and score != "raw-logit":
            raise OptionError(
                f"one answer token ({answer_tokens!r}) gives a raw logit, not a probability: pass "
                "score=raw-logit, or two tokens 'FALSE,TRUE'"
            )
        self.read_ids = ids  # the scored token last
        self.score_kind = ScoreKind.LOG_PROBABILITY if score == "log-probability" else ScoreKind.UNBOUNDED

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        sources = [
            self.backend.fit_source(
                lambda p, q=query.text: self.template.format(query=q, passage=p[0]),
                [candidate.text],
                f"passage {candidate.docid!r}",
                "longest-first",  # one piece: cut from its end, as the checkpoints' own truncation does
            )
            for query, candidate in pairs
        ]
        logits = self.backend.first_step_logits(sources, self.read_ids)
        if self.score == "raw-logit":
            return logits[:, -1].astype(float).tolist()

        return log_share(logits[:, :2], 1).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "template": self.template,
            "answer_tokens": self.answer_tokens,
            "score": self.score,
            "max_length": self.backend.max_length,
        }

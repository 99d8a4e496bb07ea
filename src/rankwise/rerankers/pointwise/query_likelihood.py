"""Query likelihood (UPR): score = mean log P(query tokens | passage, instruction) under a causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, LanguageModel
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pointwise import QUERY_GENERATION
from rankwise.rerankers.prompts.shapes import ChatPrompt
from rankwise.types import Candidate, Query, ScoreKind


@dataclass(frozen=True)
class QueryLikelihoodOptions:
    prompt: ChatPrompt = option(
        QUERY_GENERATION,
        named=prompts_of("query-likelihood"),
        help="a prompt name or ChatPrompt (must contain {passage})",
    )
    max_passage_tokens: int = option(300, minimum=1, help="passages are cut to this many tokens")


class QueryLikelihoodReranker(PointwiseReranker):
    score_kind = ScoreKind.LOG_PROBABILITY  # mean over the query's tokens
    model_kinds = (CAUSAL_LM,)
    method = "query-likelihood"
    requires = frozenset({Capability.TOKENIZE, Capability.CONTINUATION_LOGPROBS})
    Options = QueryLikelihoodOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: QueryLikelihoodOptions):
        super().__init__(model_label)
        self.lm = lm
        self.prompt = options.prompt
        self.max_passage_tokens = options.max_passage_tokens

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        prefixes, continuations = [], []
        query_ids = {q.text: self.lm.encode(q.text) for q, _ in pairs}
        for query, candidate in pairs:
            passage = self.lm.text.truncate_text(
                candidate.text, self.max_passage_tokens, what=f"passage {candidate.docid!r}"
            )
            prefixes.append(self.lm.encode(self.lm.chat_prefix(self.prompt.messages(passage=passage))))
            continuations.append(query_ids[query.text])
        per_token = self.lm.continuation_logprobs(prefixes, continuations)
        return [float(lp.mean()) for lp in per_token]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_passage_tokens": self.max_passage_tokens}

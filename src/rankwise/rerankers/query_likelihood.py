"""Query likelihood (UPR): score = mean log P(query tokens | passage, instruction) under a causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.causal_lm import CausalLM
from rankwise.backends.runtime import RuntimeOptions
from rankwise.models.resolve import ModelLocation
from rankwise.rerankers.base import PointwiseReranker, reject_unknown_options
from rankwise.rerankers.prompts import QUERY_GENERATION, ChatPrompt
from rankwise.types import Candidate, Query


class QueryLikelihoodReranker(PointwiseReranker):
    method = "query-likelihood"

    def __init__(self, lm: CausalLM, model_label: str, prompt: ChatPrompt = QUERY_GENERATION,
                 max_passage_tokens: int = 300):
        super().__init__(model_label)
        self.lm = lm
        self.prompt = prompt
        self.max_passage_tokens = max_passage_tokens

    @classmethod
    def from_model(cls, location: ModelLocation, **options: Any) -> QueryLikelihoodReranker:
        runtime = RuntimeOptions.pick(options)
        kwargs = {k: options.pop(k) for k in ("prompt", "max_passage_tokens") if k in options}
        reject_unknown_options(cls.method, options)
        return cls(CausalLM(location, runtime), location.label, **kwargs)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        prefixes, continuations = [], []
        query_ids = {q.text: self.lm.encode(q.text) for q, _ in pairs}
        for query, candidate in pairs:
            passage, _ = self.lm.text.truncate_text(candidate.text, self.max_passage_tokens,
                                               what=f"passage {candidate.docid!r}")
            prefixes.append(self.lm.encode(self.lm.chat_prefix(self.prompt.messages(passage=passage))))
            continuations.append(query_ids[query.text])
        per_token = self.lm.continuation_logprobs(prefixes, continuations)
        return [float(lp.mean()) for lp in per_token]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_passage_tokens": self.max_passage_tokens}

"""LLM relevance generation: ask whether the passage answers the query and score
log P(yes) - log P(no) from the next-token distribution (no sampling, one forward pass per pair)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.causal_lm import CausalLM
from rankwise.backends.runtime import RuntimeOptions
from rankwise.errors import UnsupportedMethodError
from rankwise.models.resolve import ModelLocation
from rankwise.rerankers.base import PointwiseReranker, reject_unknown_options
from rankwise.rerankers.prompts import RELEVANCE_YES_NO, ChatPrompt
from rankwise.types import Candidate, Query

YES_WORDS = ("Yes", "yes", " Yes", " yes", "YES")
NO_WORDS = ("No", "no", " No", " no", "NO")


class LLMPointwiseReranker(PointwiseReranker):
    method = "llm-pointwise"

    def __init__(self, lm: CausalLM, model_label: str, prompt: ChatPrompt = RELEVANCE_YES_NO,
                 max_passage_tokens: int = 300):
        super().__init__(model_label)
        self.lm = lm
        self.prompt = prompt
        self.max_passage_tokens = max_passage_tokens
        self.yes_ids = lm.text.single_token_ids(YES_WORDS)
        self.no_ids = lm.text.single_token_ids(NO_WORDS)
        if not self.yes_ids or not self.no_ids:
            raise UnsupportedMethodError(
                f"{model_label}: the tokenizer has no single-token 'Yes'/'No', so log P(yes) - log P(no) "
                "cannot be read from one next-token distribution"
            )

    @classmethod
    def from_model(cls, location: ModelLocation, **options: Any) -> LLMPointwiseReranker:
        runtime = RuntimeOptions.pick(options)
        kwargs = {k: options.pop(k) for k in ("prompt", "max_passage_tokens") if k in options}
        reject_unknown_options(cls.method, options)
        return cls(CausalLM(location, runtime), location.label, **kwargs)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        import numpy as np

        sequences = []
        for query, candidate in pairs:
            passage, _ = self.lm.text.truncate_text(candidate.text, self.max_passage_tokens,
                                               what=f"passage {candidate.docid!r}")
            text = self.lm.chat_prefix(self.prompt.messages(query=query.text, passage=passage))
            sequences.append(self.lm.encode(text))
        log_probs = self.lm.next_token_logprobs(sequences, self.yes_ids + self.no_ids)
        yes = np.logaddexp.reduce(log_probs[:, : len(self.yes_ids)], axis=1)
        no = np.logaddexp.reduce(log_probs[:, len(self.yes_ids):], axis=1)
        return (yes - no).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_passage_tokens": self.max_passage_tokens}

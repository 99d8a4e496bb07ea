"""LLM relevance generation: ask whether the passage answers the query and score
log P(yes) - log P(no) from the next-token distribution (no sampling, one forward pass per pair)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, LanguageModel
from rankwise.errors import UnsupportedMethodError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts import RELEVANCE_YES_NO, YES_NO_PROMPTS, ChatPrompt
from rankwise.types import Candidate, Query, ScoreKind

YES_WORDS = ("Yes", "yes", " Yes", " yes", "YES")
NO_WORDS = ("No", "no", " No", " no", "NO")


@dataclass(frozen=True)
class LLMPointwiseOptions:
    prompt: ChatPrompt = option(RELEVANCE_YES_NO, named=YES_NO_PROMPTS, help="a prompt name or ChatPrompt")
    max_passage_tokens: int = option(300, minimum=1, help="passages are cut to this many tokens")


class LLMPointwiseReranker(PointwiseReranker):
    score_kind = ScoreKind.LOGIT  # log P(yes) - log P(no)
    model_kinds = (CAUSAL_LM,)
    method = "llm-pointwise"
    requires = LANGUAGE_MODEL
    Options = LLMPointwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, prompt: ChatPrompt = RELEVANCE_YES_NO,
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

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        import numpy as np

        sequences = []
        for query, candidate in pairs:
            passage = self.lm.text.truncate_text(candidate.text, self.max_passage_tokens,
                                               what=f"passage {candidate.docid!r}")
            text = self.lm.chat_prefix(self.prompt.messages(query=query.text, passage=passage))
            sequences.append(self.lm.encode(text))
        log_probs = self.lm.next_token_logprobs(sequences, self.yes_ids + self.no_ids)
        yes = np.logaddexp.reduce(log_probs[:, : len(self.yes_ids)], axis=1)
        no = np.logaddexp.reduce(log_probs[:, len(self.yes_ids):], axis=1)
        return (yes - no).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_passage_tokens": self.max_passage_tokens}

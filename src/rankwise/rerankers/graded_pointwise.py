"""Fine-grained pointwise reranking (ERank, TFRank, ProRank style): the model is asked for an integer grade
from 0 to `max_grade`, and the score is the expected grade under the next-token distribution over the grade
tokens (sum of g P(g), normalized over the grades; nothing sampled). With `reasoning_budget > 0` the model
thinks first (as `reasoning-pointwise`); with 0 the think block is written empty, TFRank's think-free use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.errors import UnsupportedMethodError
from rankwise.options import option
from rankwise.rerankers.prompts import GRADED_PROMPTS, GRADED_RELEVANCE, ReasoningPrompt
from rankwise.rerankers.reasoning_pointwise import ThinkingPointwiseReranker
from rankwise.types import ScoreKind


@dataclass(frozen=True)
class GradedPointwiseOptions:
    prompt: ReasoningPrompt = option(GRADED_RELEVANCE, named=GRADED_PROMPTS, help="a prompt name or ReasoningPrompt")
    max_grade: int = option(9, minimum=1, help="grades 0..max_grade, each one token (digits)")
    reasoning_budget: int = option(0, minimum=0, help="reasoning tokens per passage; 0: think-free")
    max_passage_tokens: int | None = option(None, minimum=1, help="passages are cut to this many tokens")


class GradedPointwiseReranker(ThinkingPointwiseReranker):
    method = "graded-pointwise"
    Options = GradedPointwiseOptions
    score_kind = ScoreKind.UNBOUNDED  # an expected grade in [0, max_grade]

    def __init__(self, lm: Any, model_label: str, prompt: ReasoningPrompt = GRADED_RELEVANCE, max_grade: int = 9,
                 reasoning_budget: int = 0, max_passage_tokens: int | None = None):
        grade_ids = []
        for grade in range(max_grade + 1):
            found = lm.text.single_token_ids([str(grade)])
            if not found:
                raise UnsupportedMethodError(f"{model_label}: the grade {grade} is not one token of this tokenizer, "
                                             "so the grade distribution cannot be read from one next-token step; "
                                             "lower max_grade")
            grade_ids += found
        super().__init__(lm, model_label, prompt, grade_ids, reasoning_budget, max_passage_tokens)
        self.max_grade = max_grade

    def prompt_fields(self) -> dict[str, Any]:
        return {"max_grade": self.max_grade}

    def scores_from(self, log_probs: Any) -> list[float]:
        import numpy as np

        weights = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        return (weights @ np.arange(self.max_grade + 1, dtype=np.float64)).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "max_grade": self.max_grade}

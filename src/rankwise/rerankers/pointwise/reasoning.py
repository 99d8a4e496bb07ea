"""Reasoning pointwise reranking (Rank1): for each (query, passage) the model thinks first, within
`reasoning_budget` tokens (0: no thinking), its think block is closed (by the model, or by the method when the
budget runs out), and the score is P(true) normalized over the two answer tokens, read from the next-token
distribution right after the block, as Rank1's own code reads it. Every passage's reasoning, its token count
and how it ended go into the ranking's trace (`trace["reasoning"]`); all passages of all queries think in one
batched generation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pointwise import RELEVANCE_REASONING, ReasoningPrompt
from rankwise.rerankers.shared.answer_tokens import answer_token_pair
from rankwise.rerankers.shared.thinking import think
from rankwise.scoring import share
from rankwise.types import Candidate, Query, ScoreKind


@dataclass(frozen=True)
class ReasoningPointwiseOptions:
    prompt: ReasoningPrompt = option(
        RELEVANCE_REASONING, named=prompts_of("reasoning-pointwise"), help="a prompt name or ReasoningPrompt"
    )
    answer_tokens: str = option(" true, false", help="'TRUE,FALSE': the two answer tokens (Rank1: ' true, false')")
    reasoning_budget: int = option(512, minimum=0, help="reasoning tokens per passage; 0: no thinking")
    max_passage_tokens: int | None = option(None, minimum=1, help="passages are cut to this many tokens")


class ThinkingPointwiseReranker(PointwiseReranker):
    """What reasoning pointwise methods share: each passage's prompt, its thought within the budget, and the
    log-probs of `answer_ids` read right after it; a subclass turns those log-probs into scores."""

    model_kinds = (CAUSAL_LM,)
    requires = LANGUAGE_MODEL | {Capability.GENERATE}

    def __init__(
        self,
        lm: LanguageModel,
        model_label: str,
        prompt: ReasoningPrompt,
        answer_ids: list[int],
        reasoning_budget: int,
        max_passage_tokens: int | None,
    ):
        super().__init__(model_label)
        self.lm, self.prompt, self.answer_ids = lm, prompt, answer_ids
        self.reasoning_budget, self.max_passage_tokens = reasoning_budget, max_passage_tokens

    def _prompt_text(self, query: str, passage: str, docid: str) -> str:
        if self.max_passage_tokens is not None:
            passage = self.lm.text.truncate_text(passage, self.max_passage_tokens, what=f"passage {docid!r}")
        return self.prompt.prompt_text(self.lm.chat_prefix, query, passage, **self.prompt_fields())

    def prompt_fields(self) -> dict[str, Any]:
        return {}

    def scores_from(self, log_probs: Any) -> list[float]:
        raise NotImplementedError

    def answer_scores(self, positions: list[list[int]]) -> tuple[list[float], list[dict[str, Any]]]:
        """Each passage's score read at its answer position (the prompt, the closed thought and the answer
        prefix), with what the trace should say about each answer: here nothing, the log-probs of
        `answer_ids` turned into scores by `scores_from`."""
        import numpy as np

        log_probs = (
            self.lm.next_token_logprobs(positions, self.answer_ids)
            if positions
            else np.zeros((0, len(self.answer_ids)))
        )
        return self.scores_from(log_probs), [{} for _ in positions]

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        return self.score_pairs_traced(pairs)[0]

    def score_pairs_traced(
        self, pairs: Sequence[tuple[Query, Candidate]]
    ) -> tuple[list[float], Callable[[int, int], dict[str, Any]]]:
        """Each pair's score after its thought, and per request (pairs [start, end)) what was thought."""
        texts = [self._prompt_text(query.text, c.text, c.docid) for query, c in pairs]
        thoughts = think(self.lm, texts, self.prompt.closing, self.reasoning_budget) if texts else []
        prefix = self.lm.encode(self.prompt.answer_prefix) if self.prompt.answer_prefix else []
        scores, notes = self.answer_scores([t.ids + prefix for t in thoughts])

        def trace_of(start: int, end: int) -> dict[str, Any]:
            mine, my_notes = thoughts[start:end], notes[start:end]
            trace: dict[str, Any] = {
                "reasoning": [
                    {"docid": c.docid, **t.trace(), **n} for (_, c), t, n in zip(pairs[start:end], mine, my_notes)
                ],
                "reasoning_tokens": sum(t.tokens for t in mine),
                "budget_hits": sum(t.budget_hit for t in mine),
                "llm_calls": end - start,
            }
            if any("answer_parsed" in n for n in my_notes):
                trace["unparsed_answers"] = sum(not n["answer_parsed"] for n in my_notes)
            return trace

        return scores, trace_of

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "reasoning_budget": self.reasoning_budget,
            "max_passage_tokens": self.max_passage_tokens,
        }


class ReasoningPointwiseReranker(ThinkingPointwiseReranker):
    method = "reasoning-pointwise"
    Options = ReasoningPointwiseOptions
    score_kind = ScoreKind.PROBABILITY

    def __init__(self, lm: LanguageModel, model_label: str, options: ReasoningPointwiseOptions):
        answer_tokens = options.answer_tokens
        (true_id,), (false_id,) = answer_token_pair(lm, answer_tokens, model_label, "'TRUE,FALSE'")
        super().__init__(
            lm, model_label, options.prompt, [true_id, false_id], options.reasoning_budget, options.max_passage_tokens
        )
        self.answer_tokens = answer_tokens

    def scores_from(self, log_probs: Any) -> list[float]:
        """P(true) normalized over the two answer tokens, per row of [log P(true), log P(false)]."""

        return share(log_probs[:, :2], 0).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "answer_tokens": self.answer_tokens}

"""Reasoning listwise reranking (ReasonRank, Rank-K): sliding windows as `listwise-generate`, but each
window's answer is a reasoning block followed by the ranking. The model thinks within `reasoning_budget`
tokens (the block closed by the method when the budget runs out), then the ranking is generated and parsed
from the answer part only, the text after the think block (inside <answer> </answer> when present), so a
ranking the model wrote while reasoning never counts. Windows of one step think in one batched generation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.options import option
from rankwise.rerankers.listwise.llm import ListwiseLLMReranker, ListwiseOptions
from rankwise.rerankers.listwise.sliding_window import Window, WindowResult
from rankwise.rerankers.prompts.listwise import (
    identifiers,
    mentioned_positions,
    parse_permutation,
    parse_ranking_until_repeat,
)
from rankwise.rerankers.prompts.shapes import ThinkClosing
from rankwise.rerankers.shared.thinking import answer_part, think


@dataclass(frozen=True)
class AnswerFormat:
    """How a checkpoint ends its reasoning and writes its ranking: what the method writes when the budget
    runs out, and which part of the answer is read with which parser."""

    closing: ThinkClosing
    last_line_only: bool  # read only the answer's last line (Rank-K), else all of it
    parse: Callable[[str, list[str]], list[int]]


ANSWER_FORMATS = {
    # ReasonRank: "<think> ... </think> <answer> [2] > [1] </answer>" (rank_llm 0.26 clean_ranking_response).
    "reasonrank": AnswerFormat(
        ThinkClosing(think_close="</think>", forced_close="{reasoning}\n</think>\n<answer>"),
        last_line_only=False,
        parse=parse_permutation,
    ),
    # Rank-K (QwQ): "... </think>\n\n[3] > [2] = [1]", its last line read until a repeat (hltcoe/rank-k).
    "rank_k": AnswerFormat(
        ThinkClosing(think_close="</think>", forced_close="{reasoning}\n</think>\n\n"),
        last_line_only=True,
        parse=parse_ranking_until_repeat,
    ),
}


@dataclass(frozen=True)
class ReasoningListwiseOptions(ListwiseOptions):
    reasoning_budget: int = option(512, minimum=0, help="reasoning tokens per window; 0: no thinking")
    answer_format: Literal["reasonrank", "rank_k"] = option(
        "reasonrank",
        help="how the reasoning closes and the ranking is read: ReasonRank's <answer> tags, or Rank-K's last line",
    )


class ReasoningListwiseReranker(ListwiseLLMReranker):
    method = "reasoning-listwise"
    requires = LANGUAGE_MODEL | {Capability.GENERATE}
    Options = ReasoningListwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: ReasoningListwiseOptions):
        super().__init__(lm, model_label, options)
        reasoning_budget, answer_format = options.reasoning_budget, options.answer_format
        self.reasoning_budget, self.answer_format = reasoning_budget, answer_format
        self.format = ANSWER_FORMATS[answer_format]
        self.closing = self.format.closing
        full = " > ".join(f"[{label}]" for label in identifiers(self.alphabet, self.window))
        self.answer_budget = len(self.lm.encode(f"<answer> {full} </answer>")) + 8
        self.reserve_tokens = reasoning_budget + self.answer_budget + 16

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        prompts = [self.window_prompt(w) for w in windows]
        thoughts = think(self.lm, [text for text, _, _ in prompts], self.closing, self.reasoning_budget)
        answers = self.lm.generate([t.ids for t in thoughts], max_new_tokens=self.answer_budget)
        results = []
        for (_, _, labels), thought, tokens in zip(prompts, thoughts, answers):
            response = self.lm.text.decode(tokens, skip_special_tokens=True)
            answer = answer_part(response, self.closing.think_close)
            if self.format.last_line_only:
                answer = answer.strip().split("\n")[-1]
            results.append(
                WindowResult(
                    order=self.format.parse(answer, labels),
                    trace={
                        **thought.trace(),
                        "answer": answer,
                        "generated_tokens": thought.tokens + len(tokens),
                        "identifiers_emitted": len(mentioned_positions(answer, labels)),
                    },
                )
            )
        return results

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "reasoning_budget": self.reasoning_budget, "answer_format": self.answer_format}

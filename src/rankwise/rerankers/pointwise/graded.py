"""Fine-grained pointwise reranking (ERank, TFRank, ProRank style): the model is asked for an integer grade
from 0 to `max_grade`, and the score is read from the next-token distribution over the grade tokens (nothing
sampled). With `reasoning_budget > 0` the model thinks first (as `reasoning-pointwise`); with 0 the think
block is written empty, TFRank's think-free use.

How the answer is read is the `answer` option:
- `expected_grade`: the expected grade, sum of g P(g) normalized over the grade tokens, right after the
  answer prefix;
- `tfrank`: TFRank's reading (JOHNNY-fans/TFRank, run_eval.py `get_next_token_probs`, `parse_yesno`,
  `parse_label`, and tfrank_demo.py `score`), which works on the server's top-20 log-prob dictionary: P(yes)
  from the first answer position (yes/Yes/YES against no/No/NO, the first spelling found in the dictionary, a
  missing one at the dictionary's least log-prob minus 10), then greedy decoding until "yes(" or "no(" (or a
  spaced or capitalized spelling), where the grade distribution over 0..4 is read the same way; the score is
  the mean of the expected grade divided by 4 and P(yes), and 0.5 when no grade opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, cast

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, TopLogprobs
from rankwise.errors import OptionError, UnsupportedMethodError
from rankwise.options import option
from rankwise.rerankers.pointwise.reasoning import ThinkingPointwiseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pointwise import GRADED_RELEVANCE, ReasoningPrompt
from rankwise.rerankers.shared.thinking import tokens_until
from rankwise.types import ScoreKind


@dataclass(frozen=True)
class ExpectedGrade:
    score_kind: ClassVar[ScoreKind] = ScoreKind.UNBOUNDED  # an expected grade in [0, max_grade]

    def scores(
        self, reranker: GradedPointwiseReranker, positions: list[list[int]]
    ) -> tuple[list[float], list[dict[str, Any]]]:
        import numpy as np

        if not positions:
            return [], []
        log_probs = reranker.lm.next_token_logprobs(positions, reranker.answer_ids)
        weights = np.exp(log_probs - log_probs.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        expected = weights @ np.arange(reranker.max_grade + 1, dtype=np.float64)
        return expected.astype(float).tolist(), [{} for _ in positions]


def _softmax(values: list[float]) -> list[float]:
    import math

    top = max(values)
    weights = [math.exp(v - top) for v in values]
    return [w / sum(weights) for w in weights]


def _entry(top: dict[str, float], spellings: tuple[str, ...]) -> float:
    """A token's log-prob in a top-k dictionary, by its first spelling found there; a token outside the
    dictionary gets the dictionary's least log-prob minus 10, as TFRank's code does."""
    for spelling in spellings:
        if spelling in top:
            return top[spelling]
    return (min(top.values()) if top else -100.0) - 10.0


@dataclass(frozen=True)
class JudgmentThenGrade:
    score_kind: ClassVar[ScoreKind] = ScoreKind.PROBABILITY  # the mean of two numbers in [0, 1]
    yes: tuple[str, ...] = ("yes", "Yes", "YES")
    no: tuple[str, ...] = ("no", "No", "NO")
    grade_openers: tuple[str, ...] = ("yes(", "no(", "yes (", "no (", "Yes(", "No(", "Yes (", "No (")
    top_logprobs: int = 20  # the dictionary TFRank asks its vLLM server for
    # TFRank's code decodes up to 1024 tokens looking for an opener; its checkpoints write "yes(3)" at once,
    # so a short search gives the same answers without generating 1024 tokens for a malformed one.
    max_answer_tokens: int = 16
    unparsed_score: float = 0.5

    def scores(
        self, reranker: GradedPointwiseReranker, positions: list[list[int]]
    ) -> tuple[list[float], list[dict[str, Any]]]:
        lm = cast(TopLogprobs, reranker.lm)  # `requires` holds top-logprobs for this answer shape
        k = self.top_logprobs
        grades = [str(g) for g in range(reranker.max_grade + 1)]
        judgments = lm.next_token_top_logprobs(positions, k) if positions else []
        produced = lm.generate(positions, self.max_answer_tokens) if positions else []
        opened = [tokens_until(lm, p, self.grade_openers) for p in produced]
        found = [i for i, n in enumerate(opened) if n is not None]
        grade_tops = lm.next_token_top_logprobs([positions[i] + produced[i][: opened[i]] for i in found], k)
        by_position = dict(zip(found, grade_tops))
        scores, notes = [], []
        for i, judgment in enumerate(judgments):
            answer = lm.text.decode(produced[i])
            if i not in by_position:
                scores.append(self.unparsed_score)
                notes.append({"answer": answer, "answer_parsed": False})
                continue
            p_yes = _softmax([_entry(judgment, self.yes), _entry(judgment, self.no)])[0]
            grade_top = by_position[i]
            distribution = _softmax([_entry(grade_top, (g,)) for g in grades])
            expected = sum(g * p for g, p in enumerate(distribution))
            fine = min(max(expected / reranker.max_grade, 0.0), 1.0)
            scores.append((fine + p_yes) / 2.0)
            notes.append({"answer": answer, "answer_parsed": True, "p_yes": p_yes, "expected_grade": expected})
        return scores, notes


GRADE_ANSWERS: dict[str, ExpectedGrade | JudgmentThenGrade] = {
    "expected_grade": ExpectedGrade(),
    "tfrank": JudgmentThenGrade(),
}


@dataclass(frozen=True)
class GradedPointwiseOptions:
    prompt: ReasoningPrompt = option(
        GRADED_RELEVANCE, named=prompts_of("graded-pointwise"), help="a prompt name or ReasoningPrompt"
    )
    max_grade: int = option(9, minimum=1, help="grades 0..max_grade, each one token (digits)")
    answer: ExpectedGrade | JudgmentThenGrade = option(
        GRADE_ANSWERS["expected_grade"],
        named=GRADE_ANSWERS,
        help="how the grade is read: expected_grade, or tfrank (P(yes) and the grade after 'yes(')",
    )
    reasoning_budget: int = option(0, minimum=0, help="reasoning tokens per passage; 0: think-free")
    max_passage_tokens: int | None = option(None, minimum=1, help="passages are cut to this many tokens")


class GradedPointwiseReranker(ThinkingPointwiseReranker):
    method = "graded-pointwise"
    Options = GradedPointwiseOptions
    requires = LANGUAGE_MODEL | {Capability.GENERATE, Capability.TOP_LOGPROBS}

    def __init__(self, lm: Any, model_label: str, options: GradedPointwiseOptions):
        prompt, max_grade, answer = options.prompt, options.max_grade, options.answer
        reasoning_budget, max_passage_tokens = options.reasoning_budget, options.max_passage_tokens
        if reasoning_budget > 0 and not prompt.thinks:
            raise OptionError(
                f"{model_label}: this prompt writes its own empty think block (a think-free prompt), "
                f"so reasoning_budget={reasoning_budget} cannot be spent; use reasoning_budget=0"
            )
        grade_ids = []
        for grade in range(max_grade + 1):
            found = lm.text.single_token_ids([str(grade)])
            if not found:
                raise UnsupportedMethodError(
                    f"{model_label}: the grade {grade} is not one token of this tokenizer, "
                    "so the grade distribution cannot be read from one next-token step; "
                    "lower max_grade"
                )
            grade_ids += found
        super().__init__(lm, model_label, prompt, grade_ids, reasoning_budget, max_passage_tokens)
        self.max_grade, self.answer = max_grade, answer
        self.score_kind = answer.score_kind

    def prompt_fields(self) -> dict[str, Any]:
        return {"max_grade": self.max_grade}

    def answer_scores(self, positions: list[list[int]]) -> tuple[list[float], list[dict[str, Any]]]:
        return self.answer.scores(self, positions)

    def describe(self) -> dict[str, Any]:
        answer = next((name for name, value in GRADE_ANSWERS.items() if value == self.answer), "custom")
        return {**super().describe(), "max_grade": self.max_grade, "answer": answer}

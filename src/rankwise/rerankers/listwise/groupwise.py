"""Groupwise reranking (GroupRank style): the first `top_k` candidates are cut into groups of `group_size` in
first-stage order, each group goes to the model in one prompt, and the model answers a grade per passage
("[1]: 7", after thinking within `reasoning_budget` tokens when it has one). Groups of all queries generate
in one batch. A passage whose grade is missing or malformed in the answer gets -1, below every graded one
(ties keep first-stage order), and is counted in `trace["missing_grades"]`; a grade above `max_grade` is
clipped to it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pointwise import GROUP_GRADES
from rankwise.rerankers.prompts.shapes import ListPrompt
from rankwise.rerankers.shared.thinking import answer_part, think
from rankwise.types import Ranking, Request, ScoreKind

MISSING_GRADE = -1.0
_GRADE = re.compile(r"\[(\d+)\]\s*[:=\-]?\s*(\d+(?:\.\d+)?)")


def parse_grades(answer: str, count: int, max_grade: int) -> list[float | None]:
    """Per position 1..count, the first grade the answer gives it (None when it gives none)."""
    grades: list[float | None] = [None] * count
    for label, value in _GRADE.findall(answer):
        position = int(label) - 1
        if 0 <= position < count and grades[position] is None:
            grades[position] = min(float(value), float(max_grade))
    return grades


@dataclass(frozen=True)
class GroupwiseOptions:
    prompt: ListPrompt = option(GROUP_GRADES, named=prompts_of("groupwise"), help="a prompt name or ListPrompt")
    group_size: int = option(5, minimum=1, help="passages per prompt")
    top_k: int = option(100, minimum=1, help="only the first stage's top k are graded")
    max_grade: int = option(9, minimum=1, help="grades 0..max_grade")
    reasoning_budget: int = option(0, minimum=0, help="reasoning tokens per group; 0: no thinking")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")


class GroupwiseReranker(BaseReranker):
    top_k: int  # always set: these methods reorder only their first top_k candidates

    model_kinds = (CAUSAL_LM,)
    method = "groupwise"
    requires = LANGUAGE_MODEL | {Capability.GENERATE}
    Options = GroupwiseOptions
    score_kind = ScoreKind.UNBOUNDED  # a grade in [0, max_grade], -1 for a missing one

    def __init__(self, lm: LanguageModel, model_label: str, options: GroupwiseOptions):
        super().__init__(model_label)
        prompt, group_size, max_grade = options.prompt, options.group_size, options.max_grade
        self.lm, self.prompt, self.group_size, self.top_k = lm, prompt, group_size, options.top_k
        self.max_grade, self.reasoning_budget = max_grade, options.reasoning_budget
        self.max_passage_tokens = options.max_passage_tokens
        self.answer_budget = len(lm.encode("\n".join(f"[{i}]: {max_grade}" for i in range(1, group_size + 1)))) + 8

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        groups, texts = [], []  # (request index, head positions)
        for q, request in enumerate(requests):
            head = request.candidates[: self.top_k]
            passages = [
                self.lm.text.truncate_text(c.text, self.max_passage_tokens, what=f"passage {c.docid!r}") for c in head
            ]
            for start in range(0, len(head), self.group_size):
                members = list(range(start, min(start + self.group_size, len(head))))
                groups.append((q, members))
                texts.append(
                    self.prompt.prompt_text(
                        self.lm.chat_prefix,
                        request.query.text,
                        [str(i + 1) for i in range(len(members))],
                        [passages[i] for i in members],
                        max_grade=self.max_grade,
                    )
                )
        thoughts = think(self.lm, texts, self.prompt.closing, self.reasoning_budget) if texts else []
        answers = self.lm.generate([t.ids for t in thoughts], max_new_tokens=self.answer_budget) if thoughts else []
        grades: list[dict[int, float | None]] = [{} for _ in requests]
        traces: list[list[dict[str, Any]]] = [[] for _ in requests]
        for (q, members), thought, tokens in zip(groups, thoughts, answers):
            answer = answer_part(self.lm.text.decode(tokens, skip_special_tokens=True), self.prompt.closing.think_close)
            parsed = parse_grades(answer, len(members), self.max_grade)
            for position, grade in zip(members, parsed):
                grades[q][position] = grade
            traces[q].append({**thought.trace(), "answer": answer, "missing": sum(g is None for g in parsed)})
        rankings = []
        for q, request in enumerate(requests):
            depth = min(len(request.candidates), self.top_k)
            scores = [grade if (grade := grades[q].get(i)) is not None else MISSING_GRADE for i in range(depth)]
            order = sorted(range(depth), key=lambda i: -scores[i])  # stable: ties keep first-stage order
            rankings.append(
                Ranking.from_head(
                    request,
                    order,
                    [scores[i] for i in order],
                    trace={
                        "groups": traces[q],
                        "llm_calls": len(traces[q]),
                        "missing_grades": sum(g["missing"] for g in traces[q]),
                        "reasoning_tokens": sum(g["reasoning_tokens"] for g in traces[q]),
                    },
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "group_size": self.group_size,
            "top_k": self.top_k,
            "max_grade": self.max_grade,
            "reasoning_budget": self.reasoning_budget,
        }

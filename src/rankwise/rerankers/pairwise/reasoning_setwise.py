"""Reasoning setwise reranking (Rank-R1): the setwise heap sort of `setwise`, where each comparison shows
`set_size` passages as [1] [2] ..., the model reasons within `reasoning_budget` tokens, the think block is
closed (by the model, or by the method with "</think>\n<answer>" when the budget runs out), and the most
relevant passage is read where the answer opens:

- `choice="log-probs"` (the default where the backend scores continuations: transformers, llama.cpp): after
  "<answer>[", each shown label's whole identifier with its closing bracket ("7]", "12]") is scored by its
  log-probability, and the likeliest is the choice; identifiers of several tokens ("1" "2" "]") are scored
  exactly, where reading one next-token distribution (FIRST's letters) could not tell [1] from [12];
- `choice="answer"` (any backend that generates, e.g. an OpenAI-compatible server): the answer is generated and
  the first shown label in it is the choice, as Rank-R1's code extracts it. An answer naming no shown label
  keeps the set's first passage (the heap's current parent: no swap) and is counted in
  `trace["unparsed_answers"]`.

The two agree whenever greedy decoding would spell out the likeliest identifier. The passages
are shown in the heap's order, not reshuffled per comparison as Rank-R1's code does, so runs repeat exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.errors import UnsupportedMethodError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pointwise import RANK_R1
from rankwise.rerankers.prompts.shapes import ListPrompt
from rankwise.rerankers.shared.heap_select import heap_top_n
from rankwise.rerankers.shared.thinking import Thought, answer_part, think
from rankwise.scoring import share
from rankwise.types import Ranking, Request, ScoreKind

ANSWER_OPENING = "\n<answer>"  # what follows a think block the model closed itself, as the forced closing writes it
LABEL = ("[", "{label}]")  # the identifier's opening, then each label's continuation
ANSWER_TOKENS = 12  # "<answer>[12]</answer>" and a little room


class ReasoningSetwiseJudge:
    """Picks the most relevant of a few passages by reasoning; keeps every comparison's trace."""

    def __init__(self, reranker: ReasoningSetwiseReranker, query: str, passages: list[str]):
        self.reranker, self.query, self.passages = reranker, query, passages
        self.comparisons: list[dict[str, Any]] = []

    def best(self, members: list[int]) -> int:
        lm: LanguageModel = self.reranker.lm
        labels = [str(i + 1) for i in range(len(members))]
        messages = self.reranker.prompt.messages(self.query, labels, [self.passages[i] for i in members])
        thought = think(lm, [lm.chat_prefix(messages)], self.reranker.prompt.closing, self.reranker.reasoning_budget)[0]
        position: int | None
        if self.reranker.reads_log_probs:
            position, read = self._likeliest_label(thought, labels)
        else:
            position, read = self._generated_label(thought, labels)
        self.comparisons.append({**thought.trace(), **read, "members": len(members)})
        return members[position if position is not None else 0]

    def _likeliest_label(self, thought: Thought, labels: list[str]) -> tuple[int, dict[str, Any]]:
        import numpy as np

        lm: LanguageModel = self.reranker.lm
        prefix = thought.ids + (lm.encode(ANSWER_OPENING) if thought.ended == "model" else []) + lm.encode(LABEL[0])
        continuations = [lm.encode(LABEL[1].format(label=label)) for label in labels]
        totals = np.array([float(lp.sum()) for lp in lm.continuation_logprobs([prefix] * len(labels), continuations)])
        position = int(totals.argmax())
        chosen_share = float(share(totals, position))
        return position, {
            "answer": f"[{labels[position]}]",
            "parsed": True,
            "read": "log-probs",
            "choice_probability": chosen_share,
        }

    def _generated_label(self, thought: Thought, labels: list[str]) -> tuple[int | None, dict[str, Any]]:
        lm: LanguageModel = self.reranker.lm
        tokens = lm.generate([thought.ids], max_new_tokens=ANSWER_TOKENS)[0]
        answer = answer_part(lm.text.decode(tokens, skip_special_tokens=True))
        named = [m for m in re.findall(r"\[(\d+)\]", answer) if m in labels]
        return (labels.index(named[0]) if named else None), {"answer": answer, "parsed": bool(named), "read": "answer"}


@dataclass(frozen=True)
class ReasoningSetwiseOptions:
    prompt: ListPrompt = option(RANK_R1, named=prompts_of("reasoning-setwise"), help="a prompt name or ListPrompt")
    set_size: int = option(20, minimum=2, help="passages shown per comparison (Rank-R1 was trained on 20)")
    top_n: int = option(10, minimum=1, help="positions settled by the heap sort (the rest keep their order)")
    top_k: int = option(100, minimum=2, help="candidates sorted; the rest follow in first-stage order")
    reasoning_budget: int = option(512, minimum=0, help="reasoning tokens per comparison; 0: no thinking")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")
    choice: Literal["auto", "log-probs", "answer"] = option(
        "auto",
        help="read the chosen label from its log-probability after '<answer>[' or from the generated "
        "answer; auto: log-probs where the backend scores continuations",
    )


class ReasoningSetwiseReranker(HeadReranker):
    score_kind = ScoreKind.ORDINAL
    model_kinds = (CAUSAL_LM,)
    method = "reasoning-setwise"
    requires = LANGUAGE_MODEL | {Capability.GENERATE}
    Options = ReasoningSetwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: ReasoningSetwiseOptions):
        super().__init__(model_label)
        self.lm, self.prompt = lm, options.prompt
        self.set_size, self.top_n, self.top_k = options.set_size, options.top_n, options.top_k
        self.reasoning_budget, self.max_passage_tokens = options.reasoning_budget, options.max_passage_tokens
        choice = options.choice
        scores_continuations = Capability.CONTINUATION_LOGPROBS in lm.capabilities
        if choice == "log-probs" and not scores_continuations:
            from rankwise.backends.registry import backends_with

            raise UnsupportedMethodError(
                f"choice='log-probs' scores each label's continuation, which backend {lm.backend_name!r} does not "
                f"offer (backends with it: {', '.join(backends_with(Capability.CONTINUATION_LOGPROBS))}); use "
                "choice='answer'"
            )
        self.choice = choice
        self.reads_log_probs = choice == "log-probs" or (choice == "auto" and scores_continuations)

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        head = request.candidates[: self.top_k]
        judge = ReasoningSetwiseJudge(self, request.query.text, passages)
        order = heap_top_n(len(head), self.set_size - 1, judge.best, self.top_n)
        order += list(range(len(head), len(request.candidates)))
        count = len(order)
        return Ranking.from_order(
            request,
            order,
            [float(count - rank) for rank in range(count)],
            trace={
                "llm_calls": len(judge.comparisons),
                "comparisons": judge.comparisons,
                "reasoning_tokens": sum(c["reasoning_tokens"] for c in judge.comparisons),
                "budget_hits": sum(c["ended"] == "budget" for c in judge.comparisons),
                "unparsed_answers": sum(not c["parsed"] for c in judge.comparisons),
            },
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "set_size": self.set_size,
            "top_n": self.top_n,
            "top_k": self.top_k,
            "reasoning_budget": self.reasoning_budget,
            "max_passage_tokens": self.max_passage_tokens,
            "choice": "log-probs" if self.reads_log_probs else "answer",
        }

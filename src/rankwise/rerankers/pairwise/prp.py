"""Pairwise ranking prompting (PRP, Qin et al. 2024): the LLM is asked which of two passages is more
relevant, and the answer is read from the log-probabilities of "A" and "B" (nothing is generated).

The comparison primitive (`PairwiseJudge`) always asks in both orders, so the model's preference for the
first or second slot cancels: a pair's preference is the mean of log P(A) - log P(B) with `a` shown first
and log P(B) - log P(A) with `a` shown second, and a comparison is a win for `a` when both orders agree,
half a win each when they disagree. The orderings built on it are separate:

- `allpair`: every unordered pair (k(k-1) prompts, batched); rank by wins, ties by summed preference;
- `heapsort`: a heap over the candidates, popped `top_n` times (O(k log k) comparisons);
- `sliding`: `top_n` bubble passes from the bottom of the list to the top (PRP-Sliding-K).

Scores say what they are (`trace["score"]`): wins for allpair, and for the sorts the position order
(k - rank), since a sort yields an order, not a measurement. `trace["llm_calls"]` counts prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, LanguageModel
from rankwise.errors import UnsupportedMethodError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pairwise import PRP
from rankwise.rerankers.prompts.shapes import ChatPrompt
from rankwise.rerankers.shared.heap_select import heap_top_n
from rankwise.scoring import group_log_odds, sigmoid_scalar
from rankwise.types import Ranking, Request, ScoreKind

ANSWER_PREFIX = "Passage"  # the assistant's answer starts here, so the next token is the letter
A_WORDS = (" A", "A")
B_WORDS = (" B", "B")


def require_letter_answers(lm: LanguageModel, model_label: str) -> None:
    """Refuse a tokenizer without single-token 'A' and 'B': the pairwise answer is read from the next-token
    distribution over them (PRP and the methods built on its judge)."""
    if not lm.text.single_token_ids(A_WORDS) or not lm.text.single_token_ids(B_WORDS):
        raise UnsupportedMethodError(
            f"{model_label}: the tokenizer has no single-token 'A'/'B', so a "
            "pairwise answer cannot be read from one next-token distribution"
        )


class PairwiseJudge:
    """Both-order comparisons of passages of one query, cached, counting the prompts it sends."""

    def __init__(self, lm: LanguageModel, prompt: ChatPrompt, query: str, passages: list[str]):
        self.lm, self.prompt, self.query, self.passages = lm, prompt, query, passages
        self.a_ids = lm.text.single_token_ids(A_WORDS)
        self.b_ids = lm.text.single_token_ids(B_WORDS)
        self.calls = 0
        self._preference: dict[tuple[int, int], float] = {}
        self._agreement: dict[tuple[int, int], float] = {}

    def _sequence(self, first: int, second: int) -> list[int]:
        messages = self.prompt.messages(
            query=self.query, passage_a=self.passages[first], passage_b=self.passages[second]
        )
        return self.lm.encode(self.lm.chat_prefix(messages) + ANSWER_PREFIX)

    def judge(self, pairs: list[tuple[int, int]]) -> None:
        """Compare every (i, j) not compared yet, in both orders, in one batch."""

        todo = [(i, j) for i, j in dict.fromkeys(pairs) if (i, j) not in self._preference]
        if not todo:
            return
        sequences = [self._sequence(i, j) for i, j in todo] + [self._sequence(j, i) for i, j in todo]
        log_probs = self.lm.next_token_logprobs(sequences, self.a_ids + self.b_ids)
        self.calls += len(sequences)
        a_over_b = group_log_odds(log_probs, len(self.a_ids))
        first_shown, second_shown = a_over_b[: len(todo)], -a_over_b[len(todo) :]
        for (i, j), forward, backward in zip(todo, first_shown, second_shown):
            preference = float(forward + backward) / 2
            wins = (float(forward > 0) + float(backward > 0)) / 2  # 1: both orders say i, 0.5: they disagree
            self._preference[(i, j)], self._preference[(j, i)] = preference, -preference
            self._agreement[(i, j)], self._agreement[(j, i)] = wins, 1 - wins

    def wins(self, i: int, j: int) -> float:
        """Wins of i over j: 1, 0.5 or 0."""
        self.judge([(i, j)])
        return self._agreement[(i, j)]

    def preference(self, i: int, j: int) -> float:
        self.judge([(i, j)])
        return self._preference[(i, j)]

    def probabilities(self, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
        """P(i beats j) = sigmoid(preference), for both orders of every pair, the pairs judged in one batch."""
        self.judge(pairs)
        probability = {}
        for i, j in pairs:
            p = sigmoid_scalar(self._preference[(i, j)])
            probability[(i, j)], probability[(j, i)] = p, 1 - p
        return probability

    def better(self, i: int, j: int) -> bool:
        """i ahead of j: both orders agree on i, or they disagree and the mean log-odds favour i."""
        wins = self.wins(i, j)
        return wins == 1 or (wins == 0.5 and self._preference[(i, j)] > 0)


def allpair_order(judge: PairwiseJudge, count: int) -> tuple[list[int], list[float]]:
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    judge.judge(pairs)
    wins = [sum(judge.wins(i, j) for j in range(count) if j != i) for i in range(count)]
    margin = [sum(judge.preference(i, j) for j in range(count) if j != i) for i in range(count)]
    order = sorted(range(count), key=lambda i: (-wins[i], -margin[i], i))
    return order, [wins[i] for i in order]


def heapsort_order(judge: PairwiseJudge, count: int, top_n: int) -> list[int]:
    """The best `top_n` by popping a binary heap; a node's winner is the better child if it beats the node."""

    def best(members: list[int]) -> int:
        node, *kids = members
        winner = kids[0]
        for kid in kids[1:]:
            if judge.better(kid, winner):
                winner = kid
        return winner if judge.better(winner, node) else node

    return heap_top_n(count, 2, best, top_n)


def sliding_order(judge: PairwiseJudge, count: int, top_n: int) -> list[int]:
    """`top_n` bubble passes from the bottom up: after pass p, the first p positions are settled."""
    order = list(range(count))
    for settled in range(min(top_n, count - 1)):
        for position in range(count - 1, settled, -1):
            if judge.better(order[position], order[position - 1]):
                order[position], order[position - 1] = order[position - 1], order[position]
    return order


@dataclass(frozen=True)
class PairwiseOptions:
    variant: str = option(
        "allpair",
        choices=("allpair", "heapsort", "sliding"),
        help="allpair: every pair, batched; heapsort / sliding: the top_n by sorting",
    )
    top_n: int = option(10, minimum=1, help="positions the sorting variants settle (the rest keep their order)")
    top_k: int = option(100, minimum=2, help="candidates compared; the rest follow in first-stage order")
    prompt: ChatPrompt = option(PRP, named=prompts_of("prp"), help="a prompt name or ChatPrompt")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")


class PairwiseReranker(HeadReranker):
    score_kind = ScoreKind.ORDINAL  # positions or wins
    model_kinds = (CAUSAL_LM,)
    method = "prp"
    requires = LANGUAGE_MODEL
    Options = PairwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: PairwiseOptions):
        super().__init__(model_label)
        self.lm = lm
        self.variant, self.top_n, self.top_k = options.variant, options.top_n, options.top_k
        self.prompt, self.max_passage_tokens = options.prompt, options.max_passage_tokens
        require_letter_answers(lm, model_label)

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        head = request.candidates[: self.top_k]
        judge = PairwiseJudge(self.lm, self.prompt, request.query.text, passages)
        count = len(head)
        if self.variant == "allpair":
            order, head_scores = allpair_order(judge, count)
            kind = "wins in both-order pairwise comparisons (ties broken by summed log-odds)"
        else:
            sort = heapsort_order if self.variant == "heapsort" else sliding_order
            order = sort(judge, count, self.top_n)
            head_scores = [float(count - rank) for rank in range(count)]
            kind = f"position order from PRP-{self.variant} (count - rank); the first {self.top_n} are sorted"
        return Ranking.from_head(
            request, order, head_scores, trace={"score": kind, "llm_calls": judge.calls, "variant": self.variant}
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "variant": self.variant,
            "top_n": self.top_n,
            "top_k": self.top_k,
            "max_passage_tokens": self.max_passage_tokens,
        }

"""Setwise reranking (Zhuang et al., SIGIR 2024): heap sort where each comparison shows `set_size` passages
and asks for the most relevant one, read from the first-token log-probabilities of the identifiers with
FIRST's exact identifier handling (merged tokens like "[A", or "[" then the letter from one cached step).

The comparison primitive (`SetwiseJudge.best`) is apart from the sort (`setwise_heapsort`): a heap with
`set_size - 1` children per node, popped `top_n` times. With `permutations > 1` each set is shown in
that many orders (a fixed rotation schedule) and the identifiers' log-probabilities are summed per
passage, which votes out position bias at that many times the cost. The rest of the list keeps its order;
scores are the position order (count - rank), since a sort yields an order, not a measurement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.prompts.listwise import identifiers
from rankwise.rerankers.prompts.pairwise import SETWISE
from rankwise.rerankers.shared.first_token import FirstTokenScheme
from rankwise.rerankers.shared.heap_select import heap_top_n
from rankwise.types import Ranking, Request, ScoreKind


def setwise_prompt(query: str, passages: Sequence[str], labels: Sequence[str]) -> str:
    """The user turn of one setwise comparison (also what `train grpo --format setwise` trains on)."""
    return SETWISE.messages(query, list(labels), list(passages))[0]["content"]


class SetwiseJudge:
    """Picks the most relevant of a few passages of one query; counts the prompts it sends."""

    def __init__(
        self,
        lm: LanguageModel,
        schemes: dict[int, FirstTokenScheme],
        query: str,
        passages: list[str],
        permutations: int = 1,
    ):
        self.lm, self.schemes, self.query, self.passages = lm, schemes, query, passages
        self.permutations = permutations
        self.calls = 0

    def scheme(self, size: int) -> FirstTokenScheme:
        if size not in self.schemes:
            self.schemes[size] = FirstTokenScheme.analyze(self.lm.text, identifiers("alpha", size))
        return self.schemes[size]

    def _sequence(self, shown: list[int], labels: tuple[str, ...]) -> list[int]:
        content = setwise_prompt(self.query, [self.passages[i] for i in shown], labels)
        return self.lm.encode(self.lm.chat_prefix([{"role": "user", "content": content}]))

    def label_logprobs(self, members: list[int]) -> dict[int, float]:
        """Per passage in `members`, its identifier's log-probability summed over the shown orders."""
        import numpy as np

        size = len(members)
        scheme = self.scheme(size)
        orders = [members[r:] + members[:r] for r in range(0, size, max(1, size // self.permutations))]
        orders = orders[: self.permutations]
        sequences = [self._sequence(order, scheme.labels) for order in orders]
        first, second = self.lm.first_token_logprobs(sequences, *scheme.request())
        self.calls += len(sequences)
        total = {i: 0.0 for i in members}
        for row, order in enumerate(orders):
            logprobs = scheme.fill(np.empty(size, dtype=np.float64), first[row], second[row])
            for position, passage in enumerate(order):
                total[passage] += float(logprobs[position])
        return total

    def best(self, members: list[int]) -> int:
        scores = self.label_logprobs(members)
        return max(members, key=lambda i: (scores[i], -members.index(i)))


def setwise_heapsort(judge: SetwiseJudge, count: int, set_size: int, top_n: int) -> list[int]:
    """The best `top_n` positions by heap sort over a (set_size - 1)-ary heap; the rest in input order."""
    return heap_top_n(count, set_size - 1, judge.best, top_n)


@dataclass(frozen=True)
class SetwiseOptions:
    set_size: int = option(3, minimum=2, help="passages shown per comparison (a heap of set_size - 1 children)")
    top_n: int = option(10, minimum=1, help="positions settled by the heap sort (the rest keep their order)")
    top_k: int = option(100, minimum=2, help="candidates sorted; the rest follow in first-stage order")
    permutations: int = option(1, minimum=1, help="orders each set is shown in, log-probs summed (position bias)")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")


class SetwiseReranker(HeadReranker):
    score_kind = ScoreKind.ORDINAL
    model_kinds = (CAUSAL_LM,)
    method = "setwise"
    requires = LANGUAGE_MODEL | {Capability.BRIDGED_FIRST_TOKEN}
    Options = SetwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: SetwiseOptions):
        super().__init__(model_label)
        self.lm = lm
        self.set_size, self.top_n, self.top_k = options.set_size, options.top_n, options.top_k
        self.permutations = min(options.permutations, options.set_size)
        self.max_passage_tokens = options.max_passage_tokens
        self._schemes: dict[int, FirstTokenScheme] = {}
        SetwiseJudge(lm, self._schemes, "", []).scheme(self.set_size)  # refuse a model at load, not mid-query

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        head = request.candidates[: self.top_k]
        judge = SetwiseJudge(self.lm, self._schemes, request.query.text, passages, self.permutations)
        order = setwise_heapsort(judge, len(head), self.set_size, self.top_n)
        order += list(range(len(head), len(request.candidates)))
        count = len(order)
        return Ranking.from_order(
            request,
            order,
            [float(count - rank) for rank in range(count)],
            trace={
                "score": f"position order from setwise heap sort (count - rank); the first {self.top_n} are sorted",
                "llm_calls": judge.calls,
            },
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "set_size": self.set_size,
            "top_n": self.top_n,
            "top_k": self.top_k,
            "permutations": self.permutations,
            "max_passage_tokens": self.max_passage_tokens,
        }

"""ListT5 (Yoon et al., "ListT5: Listwise Reranking with Fusion-in-Decoder Improves Zero-shot Retrieval", ACL
2024; Soyoung97/ListT5-base, -3b): a Fusion-in-Decoder T5 reads `window` (5) passages, each encoded alone as
"Query: q, Index: i, Context: p", and generates their indices from the LEAST to the most relevant ("3 1 4 2
5": passage 5 best). Reading that as LiT5's best-first output would reverse every ranking.

The ranking is the authors' m-ary tournament sort (`run_listt5.py`, `ListT5Evaluator.run_tournament_sort`),
reproduced step by step so that the same model gives the same order: each round finds the single best
passage by running the candidates in groups of `window` and keeping each group's last `out_k` (2) outputs,
then groups of the winners, until one is left; a group short of `window` is filled with other candidates
(`get_leftover_idx`); the round's winner is excluded and its slot given a "dummy" (the index `dummy` (21)
places further, moved past excluded ones: `check_valid_list`) so later rounds reuse the cached outputs of
every untouched group (keyed by the set of indices, as theirs); `top_n` (10) rounds, the rest after them in
first-stage order. A query with at most `window` candidates is ordered by one call
(`get_full_order_in_one_loop`). An output that does not parse as numbers counts as "1 1" and an index out of
range falls back to the group's last `out_k`, as the authors' code does (both counted in the trace)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.prompts.seq2seq import LISTT5
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class ListT5Options:
    window: int = option(5, minimum=2, help="passages per FiD input (ListT5 was trained on 5)")
    out_k: int = option(2, minimum=1, help="outputs kept from each group (its most relevant, the last ones)")
    top_n: int = option(10, minimum=1, help="tournament rounds: the top n found one by one, the rest after them")
    dummy: int = option(21, minimum=1, help="how far a round's winner's slot is moved for the next rounds")
    passage_tokens: int = option(256, minimum=8, help="tokens per source (the authors' max_input_length, DL: 256)")
    template: str = option(LISTT5, help="each passage's source, with {query}, {label} and {passage}")


@dataclass
class Tournament:
    """One query's tournament state: the cache of group outputs and the rounds' winners so far."""

    reranker: ListT5Reranker
    query: str
    passages: list[str]
    cache: dict[frozenset[int], list[int]] = field(default_factory=dict)
    excluded: list[int] = field(default_factory=list)
    calls: int = 0
    unparsed: int = 0
    out_of_range: int = 0

    def best_of(self, index: list[int], k: int, use_cache: bool = True) -> list[int]:
        """The last `k` of the model's order of the passages `index` (their most relevant, best last)."""
        if len(set(index)) == 1:
            return index[:k]
        index = sorted(index)
        key = frozenset(index)
        if use_cache and key in self.cache:
            return self.cache[key][-k:]
        text = self.reranker.generate(self.query, [self.passages[i] for i in index])
        self.calls += 1
        try:
            relative = [int(x) for x in text.split(" ")[-k:]]
        except ValueError:
            relative = [1] * k
            self.unparsed += 1
        try:
            chosen = [index[x - 1] for x in relative]
        except IndexError:
            chosen = index[-k:]
            self.out_of_range += 1
        self.cache[key] = chosen
        return chosen

    def leftover(self, exclude: list[int], k: int, candidates: list[int]) -> list[int]:
        """`k` fillers from `candidates`, in order, outside `exclude` and past winners (cycling; repeats
        allowed only when nothing else is left)."""
        excluded = set(exclude) | set(self.excluded)
        anything = not (set(candidates) - excluded)
        out: list[int] = []
        i = 0
        while len(out) != k:
            if i == len(candidates):
                i = 0
            if anything or candidates[i] not in excluded:
                out.append(candidates[i])
            i += 1
        return out

    def round(self, candidates: list[int]) -> int:
        """The best of `candidates` (one tournament)."""
        window, out_k = self.reranker.window, self.reranker.out_k
        if out_k * 2 > window:
            candidates = list(dict.fromkeys(candidates))
        saved: list[int] = []
        for start in range(0, len(candidates), window):
            group = candidates[start : start + window]
            if len(group) < window:
                saved += self.best_of(group + self.leftover(group, window - len(group), candidates), out_k)
            elif len(set(group)) == 1:
                saved.append(group[0])
            else:
                saved += self.best_of(group, out_k)
        if len(saved) < window:
            return self.best_of(saved + self.leftover(saved, window - len(saved), candidates), out_k)[-1]
        if len(saved) > window:
            return self.round(saved)
        if len(saved) == 1:
            return saved[0]
        return self.best_of(saved, out_k)[-1]

    def full_order(self, count: int) -> list[int]:
        """At most `window` candidates: one call over them (cycled to fill the window), read best first."""
        window = self.reranker.window
        expanded = [i % count for i in range(window)]
        output = self.best_of(expanded, window, use_cache=False)
        return list(dict.fromkeys(reversed(output)))

    def revalidate(self, slots: list[int]) -> list[int]:
        """Winners still in `slots` moved to the next index that is not a winner (`check_valid_list`)."""
        for winner in self.excluded:
            while winner in slots:
                replacement = (winner + 1) % len(slots)
                while replacement in self.excluded:
                    replacement = (replacement + 1) % len(slots)
                slots[slots.index(winner)] = replacement
        return slots

    def ranking(self) -> list[int]:
        count = len(self.passages)
        slots = list(range(count))
        reranker = self.reranker
        if count <= reranker.window:
            found = self.full_order(count)
        else:
            found = []
            for _ in range(min(reranker.top_n, count)):
                winner = self.round(slots)
                at = slots.index(winner)
                self.excluded.append(winner)
                if count <= reranker.top_n and len(self.excluded) == count:
                    found.append(winner)
                    break
                if reranker.out_k * 2 <= reranker.window:
                    slots[at] = (winner + reranker.dummy) % count
                slots = self.revalidate(slots)
                found.append(winner)
        return found + [i for i in range(count) if i not in found]


class ListT5Reranker(BaseReranker):
    model_kinds = (SEQ2SEQ_LM,)
    method = "listt5"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = ListT5Options
    score_kind = ScoreKind.ORDINAL  # count - rank

    def __init__(self, backend: Seq2SeqScoring, model_label: str, options: ListT5Options):
        super().__init__(model_label)
        check_template(options.template, ("query", "label", "passage"), "option template")
        self.backend, self.template = backend, options.template
        self.window, self.out_k, self.top_n, self.dummy = options.window, options.out_k, options.top_n, options.dummy
        self.passage_tokens = options.passage_tokens
        # The authors' generate(max_length=window + 2): the start token, `window` indices and the end.
        self.max_length = options.window + 2

    def generate(self, query: str, passages: list[str]) -> str:
        """The model's output for one group, as text (indices from 1, least relevant first)."""
        sources = [
            self.backend.encode_cut(self.template.format(query=query, label=i, passage=text), self.passage_tokens)
            for i, text in enumerate(passages, start=1)
        ]
        return self.backend.decode(self.backend.generate_fused([sources], self.max_length)[0])

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        rankings = []
        for request in requests:
            tournament = Tournament(self, request.query.text, [c.text.strip() for c in request.candidates])
            order = tournament.ranking() if len(request.candidates) > 1 else list(range(len(request.candidates)))
            n = len(order)
            trace = {
                "model_calls": tournament.calls,
                "unparsed_outputs": tournament.unparsed,
                "out_of_range_outputs": tournament.out_of_range,
            }
            rankings.append(Ranking.from_order(request, order, [float(n - r) for r in range(n)], trace=trace))
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "window": self.window,
            "out_k": self.out_k,
            "top_n": self.top_n,
            "dummy": self.dummy,
            "passage_tokens": self.passage_tokens,
            "template": self.template,
        }

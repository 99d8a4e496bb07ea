"""Pairwise encoder-decoder reranking (duoT5): for every ordered pair (i, j) of the first `top_k`
candidates the model reads "Query: q Document0: d_i Document1: d_j Relevant:", p_ij = P(true) from a softmax
over its false and true tokens at the first decoder step says how likely d_i is the more relevant, and a
passage's score is the symmetric sum over its pairs, sum_j p_ij + (1 - p_ji), as in pygaggle's DuoT5 (the
Expando-Mono-Duo authors' code). k (k - 1) source texts per query, all batched; the rest keep their order
below. Meant for the head of a cascade (`seq2seq-pointwise:monot5-base@50 >> seq2seq-pairwise:duot5-base`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations
from typing import Any

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.pointwise.seq2seq import answer_token_ids
from rankwise.rerankers.prompts.seq2seq import DUOT5
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.scoring import share
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class Seq2SeqPairwiseOptions:
    template: str = option(DUOT5, help="the source text, with {query}, {passage_a} and {passage_b}")
    answer_tokens: str = option(
        "▁false,▁true", help="'FALSE,TRUE': the vocabulary tokens read at the first decoder step"
    )
    top_k: int = option(50, minimum=1, help="only the first k candidates are compared (k (k - 1) pairs)")


class Seq2SeqPairwiseReranker(BaseReranker):
    top_k: int  # always set: these methods reorder only their first top_k candidates

    model_kinds = (SEQ2SEQ_LM,)
    method = "seq2seq-pairwise"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = Seq2SeqPairwiseOptions
    score_kind = ScoreKind.ORDINAL  # a sum of pairwise probabilities: its scale grows with k

    def __init__(self, backend: Seq2SeqScoring, model_label: str, options: Seq2SeqPairwiseOptions):
        super().__init__(model_label)
        template, answer_tokens, top_k = options.template, options.answer_tokens, options.top_k
        check_template(template, ("query", "passage_a", "passage_b"), "option template")
        self.backend, self.template, self.answer_tokens, self.top_k = backend, template, answer_tokens, top_k
        self.false_id, self.true_id = answer_token_ids(backend, answer_tokens)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        import numpy as np

        jobs, sources = [], []
        for q, request in enumerate(requests):
            head = request.candidates[: self.top_k]
            for i, j in permutations(range(len(head)), 2):
                build = lambda p, text=request.query.text: self.template.format(
                    query=text, passage_a=p[0], passage_b=p[1]
                )
                sources.append(
                    self.backend.fit_source(
                        build,
                        [head[i].text, head[j].text],
                        f"pair ({head[i].docid!r}, {head[j].docid!r})",
                        "longest-first",  # pygaggle's duoT5 truncation
                    )
                )
                jobs.append((q, i, j))
        logits = self.backend.first_step_logits(sources, [self.false_id, self.true_id]) if sources else None
        totals = [np.zeros(min(len(r.candidates), self.top_k)) for r in requests]
        for (q, i, j), row in zip(jobs, logits if logits is not None else []):
            p = float(share(row[:2], 1))
            totals[q][i] += p
            totals[q][j] += 1.0 - p
        rankings = []
        for request, total in zip(requests, totals):
            order = sorted(range(len(total)), key=lambda i: -total[i])  # stable: ties keep the input order
            pairs = len(total) * (len(total) - 1)
            rankings.append(
                Ranking.from_head(
                    request, order, [float(total[i]) for i in order], trace={"llm_calls": pairs, "pairs": pairs}
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "template": self.template,
            "answer_tokens": self.answer_tokens,
            "top_k": self.top_k,
            "max_length": self.backend.max_length,
        }

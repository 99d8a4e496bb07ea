"""Reciprocal rank fusion (Cormack et al., 2009): a candidate's score is the sum over member rankings of
1 / (k + rank), k = 60 by default. It reads only ranks, so members of any score kind mix safely, and the
fused score is ordinal. Members see the same candidates and run one after another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.options import option
from rankwise.rerankers.base import BaseReranker, shared_token_counter
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class RRFOptions:
    k: int = option(60, minimum=0, help="rank offset: larger k flattens the gap between top ranks")


def reciprocal_rank_scores(rankings: Sequence[Ranking], k: int) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in rankings:
        for result in ranking.results:
            fused[result.docid] = fused.get(result.docid, 0.0) + 1.0 / (k + result.rank)
    return fused


class ReciprocalRankFusion(BaseReranker):
    method = "rrf"
    score_kind = ScoreKind.ORDINAL

    Options = RRFOptions

    def __init__(self, members: Sequence[BaseReranker], model_label: str, options: RRFOptions):
        super().__init__(model_label)
        self.members = list(members)
        self.k = options.k
        self.token_counter = shared_token_counter(self.members)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        per_member = [member.rerank_batch(requests) for member in self.members]
        rankings = []
        for q, request in enumerate(requests):
            fused = reciprocal_rank_scores([member[q] for member in per_member], self.k)
            rankings.append(
                Ranking.from_scores(
                    request,
                    [fused[c.docid] for c in request.candidates],
                    trace={"members": [f"{m.method}:{m.model_label}" for m in self.members], "k": self.k},
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "k": self.k, "members": [m.describe() for m in self.members]}

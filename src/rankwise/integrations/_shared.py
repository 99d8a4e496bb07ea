"""What every framework adapter does: load a reranker once, rerank texts, and give each kept text its
position in the input, its raw score and its score mapped onto [0, 1] by kind."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.api import Reranker
from rankwise.rerankers.base import BaseReranker


@dataclass(frozen=True)
class Scored:
    index: int  # position in the texts given
    relevance: float  # in [0, 1], mapped from `score` by the method's score kind
    score: float  # the method's own score


def load(model: str, method: str | None, options: dict[str, Any]) -> BaseReranker:
    return Reranker.load(model, method=method, **options)


def rerank_texts(reranker: BaseReranker, query: str, texts: Sequence[str], top_n: int | None) -> list[Scored]:
    """Best first; `top_n` None keeps all. An empty list of texts gives an empty result."""
    if not texts:
        return []
    ranking = reranker.rerank(query, list(texts))
    relevance = ranking.score_kind.to_unit_interval([r.score for r in ranking.results])
    scored = [Scored(int(r.docid), unit, r.score) for r, unit in zip(ranking.results, relevance)]
    return scored if top_n is None else scored[:top_n]

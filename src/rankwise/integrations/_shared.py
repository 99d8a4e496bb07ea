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
    relevance: float  # in [0, 1]: the calibrated probability, else mapped from `score` by the method's score kind
    score: float  # the method's own score


class LazyReranker:
    """What every adapter holds: `model`, `method` and `options` (as `Reranker.load` takes them), loaded at
    first use so that building a pipeline stays cheap, or a reranker already loaded (`from_reranker`).
    Adapters set `_reranker` to None (pydantic ones through a private attribute)."""

    def warm_up(self) -> None:
        """Load the model now (Haystack pipelines call this before their first run)."""
        if self._reranker is None:
            self._reranker = Reranker.load(self.model, method=self.method, **self.options)

    @property
    def reranker(self) -> BaseReranker:
        self.warm_up()
        return self._reranker

    @classmethod
    def from_reranker(cls, reranker: BaseReranker, **settings: Any) -> Any:
        """Wrap a reranker already loaded (shared with other code, or built in Python)."""
        adapter = cls(model=reranker.model_label, method=reranker.method, **settings)
        adapter._reranker = reranker
        return adapter


def rerank_texts(
    reranker: BaseReranker,
    query: str,
    texts: Sequence[str],
    top_n: int | None,
    min_probability: float | None = None,
    coverage: float | None = None,
    instruction: str | None = None,
) -> list[Scored]:
    """Best first; `top_n` None keeps all. With a calibration, `min_probability` keeps only the texts at least
    that likely to be relevant, possibly none, and `coverage` the adaptive prefix (`top_n="adaptive"` of the
    Python API), both before `top_n`; the relevance is then the calibrated probability. An empty list of
    texts gives an empty result. `instruction` fills the prompt's instruction slot (Qwen3-Reranker's)."""
    if not texts:
        return []
    ranking = reranker.rerank(
        query,
        list(texts),
        min_probability=min_probability,
        coverage=coverage,
        top_n="adaptive" if coverage is not None else None,
        instruction=instruction,
    )
    if reranker.calibration is not None:
        relevance = [float(r.probability) for r in ranking.results]
    else:
        relevance = ranking.score_kind.to_unit_interval([r.score for r in ranking.results])
    scored = [Scored(int(r.docid), unit, r.score) for r, unit in zip(ranking.results, relevance)]
    return scored if top_n is None else scored[:top_n]

"""A reranker whose results carry calibrated probabilities: the inner reranker's ranking, unchanged, with each
result's P(relevant) from a calibration fitted for that reranker (`rankwise calibrate`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.calibration import Calibration
from rankwise.rerankers.base import BaseReranker, ScoredRequest, WrappingReranker
from rankwise.types import Ranking, Request

# Description keys that say where results are kept, not how they are scored: they may differ from the fit.
NOT_SCORING = ("cache", "index")


def scoring_description(reranker: BaseReranker) -> dict[str, Any]:
    """The reranker's description without what does not change its scores, at every depth (a spec's
    members and stages describe themselves inside it)."""
    return _scoring(reranker.describe())


def _scoring(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _scoring(inner) for key, inner in value.items() if key not in NOT_SCORING}
    if isinstance(value, list):
        return [_scoring(inner) for inner in value]
    return value


class CalibratedReranker(WrappingReranker):
    def __init__(self, inner: BaseReranker, calibration: Calibration, source: str = "the calibration"):
        super().__init__(inner)
        calibration.check_reranker(scoring_description(inner), source)
        self.calibration: Calibration = calibration
        self.source = source

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        rankings = self.inner.rerank_batch(requests)
        for ranking in rankings:
            results = ranking.results
            probabilities = self.calibration.probabilities(
                [r.score for r in results], [r.rank for r in results], len(results)
            )
            for result, probability in zip(results, probabilities):
                result.probability = float(probability)
            ranking.trace["calibration"] = self.source
        return rankings

    def candidate_scores(self, requests: Sequence[Request]) -> list[list[float]]:
        return self.inner.candidate_scores(requests)

    def scored_requests(self, requests: Sequence[Request]) -> list[ScoredRequest]:
        return self.inner.scored_requests(requests)

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "calibration": self.source}

"""Effectiveness of runs against qrels, computed by ir-measures.

Binary measures follow the TREC Deep Learning convention: a passage counts as relevant at grade >= 2."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rankwise.io.trec import Qrels, Run
from rankwise.types import Ranking

DEFAULT_MEASURES = ("nDCG@10", "nDCG@5", "AP(rel=2)@100", "RR(rel=2)@10", "R(rel=2)@100")


def run_from_rankings(rankings: Iterable[Ranking]) -> Run:
    return {r.query.qid: {res.docid: res.score for res in r.results} for r in rankings}


def evaluate(run: Run, qrels: Qrels, measures: Sequence[str] = DEFAULT_MEASURES) -> dict[str, float]:
    """Mean of each measure over the queries that have judgments; queries missing from the run score 0."""
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    judged = {qid: docs for qid, docs in qrels.items()}
    results = ir_measures.calc_aggregate(parsed, judged, run)
    return {name: float(results[m]) for name, m in zip(measures, parsed)}

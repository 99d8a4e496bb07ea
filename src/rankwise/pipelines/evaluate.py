"""Effectiveness of runs against qrels, computed by ir-measures, and comparison of several runs
against a baseline with paired significance tests.

Binary measures follow the TREC Deep Learning convention: a passage counts as relevant at grade >= 2
(configurable with `relevance_level`). Runs are evaluated on the queries they share with the qrels;
differences in query sets are reported as warnings, never silently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.errors import InputError
from rankwise.io.trec import Qrels, Run
from rankwise.pipelines.significance import holm_bonferroni, paired_t_test, randomization_test, win_tie_loss
from rankwise.types import Ranking

DEFAULT_MEASURES = ("nDCG@10", "nDCG@5", "AP(rel=2)@100", "RR(rel=2)@10", "R(rel=2)@100")


def report_measures(relevance_level: int = 2) -> list[str]:
    r = relevance_level
    return [
        "nDCG@1",
        "nDCG@5",
        "nDCG@10",
        f"AP(rel={r})@100",
        f"RR(rel={r})@10",
        f"R(rel={r})@20",
        f"R(rel={r})@100",
        "Judged@10",
    ]


def run_from_rankings(rankings: Iterable[Ranking]) -> Run:
    return {r.query.qid: {res.docid: res.score for res in r.results} for r in rankings}


def coverage(run: Run, qrels: Qrels) -> tuple[list[str], list[str]]:
    """(judged queries missing from the run, run queries without judgments)."""
    return sorted(set(qrels) - set(run)), sorted(set(run) - set(qrels))


def evaluate(run: Run, qrels: Qrels, measures: Sequence[str] = DEFAULT_MEASURES) -> dict[str, float]:
    """Mean of each measure over the queries both the run and the qrels have."""
    import ir_measures

    parsed = [ir_measures.parse_measure(m) for m in measures]
    shared = set(run) & set(qrels)
    results = ir_measures.calc_aggregate(parsed, {q: qrels[q] for q in shared}, {q: run[q] for q in shared})
    return {name: float(results[m]) for name, m in zip(measures, parsed)}


def per_query(run: Run, qrels: Qrels, measures: Sequence[str]) -> dict[str, dict[str, float]]:
    """measure -> {qid: value} over the shared queries."""
    shared = set(run) & set(qrels)
    return _PerQuery(measures, {q: qrels[q] for q in shared})({q: run[q] for q in shared})


class _PerQuery:
    """Measures parsed and qrels indexed once (an ir_measures evaluator), then applied to many runs."""

    def __init__(self, measures: Sequence[str], qrels: Qrels):
        import ir_measures

        parsed = [ir_measures.parse_measure(m) for m in measures]
        self.names = {str(p): m for p, m in zip(parsed, measures)}
        self.evaluator = ir_measures.evaluator(parsed, qrels)

    def __call__(self, run: Run) -> dict[str, dict[str, float]]:
        values: dict[str, dict[str, float]] = {m: {} for m in self.names.values()}
        for metric in self.evaluator.iter_calc(run):
            values[self.names[str(metric.measure)]][metric.query_id] = float(metric.value)
        return values


@dataclass
class RunResult:
    label: str
    means: dict[str, float]
    per_query: dict[str, dict[str, float]]
    metadata: dict[str, Any] = field(default_factory=dict)
    p_t: float | None = None
    p_randomization: float | None = None
    p_t_holm: float | None = None
    p_randomization_holm: float | None = None
    wins_ties_losses: tuple[int, int, int] | None = None


@dataclass
class Comparison:
    runs: list[RunResult]
    baseline: str | None
    measures: list[str]
    test_measure: str
    queries: list[str]
    warnings: list[str]


def compare_runs(
    runs: Mapping[str, Run],
    qrels: Qrels,
    baseline: str | None = None,
    measures: Sequence[str] | None = None,
    test_measure: str = "nDCG@10",
    metadata: Mapping[str, dict[str, Any]] | None = None,
    trials: int = 10000,
) -> Comparison:
    """Evaluate each run on the queries all runs share with the qrels (so the tests are paired), and test
    every run against the baseline on `test_measure`, Holm-Bonferroni-adjusted across the runs."""
    measures = list(measures or report_measures())
    if test_measure not in measures:
        measures.append(test_measure)
    if baseline is not None and baseline not in runs:
        raise InputError(f"baseline {baseline!r} is not one of the runs: {', '.join(runs)}")
    warnings = []
    for label, run in runs.items():
        missing, extra = coverage(run, qrels)
        if missing:
            warnings.append(f"{label}: {len(missing)} judged queries missing from the run: {_short(missing)}")
        if extra:
            warnings.append(f"{label}: {len(extra)} queries without judgments ignored: {_short(extra)}")
    shared = set(qrels)
    for run in runs.values():
        shared &= set(run)
    if not shared:
        raise InputError("the runs and the qrels share no query")
    queries = sorted(shared)
    score = _PerQuery(measures, {q: qrels[q] for q in queries})
    results = []
    for label, run in runs.items():
        values = score({q: run[q] for q in queries})
        means = {m: (sum(values[m].values()) / len(queries)) for m in measures}
        results.append(
            RunResult(label=label, means=means, per_query=values, metadata=dict((metadata or {}).get(label, {})))
        )
    if baseline is not None and len(queries) < 2:
        warnings.append(
            f"significance tests need at least two shared queries, {len(queries)} here: only win/tie/loss is given"
        )
    if baseline is not None:
        _add_tests(results, baseline, test_measure, queries, trials, tested=len(queries) >= 2)
    return Comparison(
        runs=results,
        baseline=baseline,
        measures=measures,
        test_measure=test_measure,
        queries=queries,
        warnings=warnings,
    )


def _add_tests(
    results: list[RunResult], baseline: str, measure: str, queries: list[str], trials: int, tested: bool = True
) -> None:
    base = next(r for r in results if r.label == baseline)
    base_values = [base.per_query[measure].get(q, 0.0) for q in queries]
    others = [r for r in results if r.label != baseline]
    for r in others:
        values = [r.per_query[measure].get(q, 0.0) for q in queries]
        r.wins_ties_losses = win_tie_loss(values, base_values)
        if tested:
            r.p_t = paired_t_test(values, base_values)
            r.p_randomization = randomization_test(values, base_values, trials=trials)
    if not tested:
        return
    for attribute in ("p_t", "p_randomization"):
        adjusted = holm_bonferroni([getattr(r, attribute) for r in others])
        for r, p in zip(others, adjusted):
            setattr(r, attribute + "_holm", p)


def _short(ids: list[str], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" ... (+{len(ids) - limit})" if len(ids) > limit else "")

"""Trying a reranker on real traffic before switching to it: the requests a service logged
(`serve --log-requests DIR`, `io/traffic.py`) reranked again by another reranker and compared with what was
served: the overlap of the two top k, Kendall's tau between the two orders (scipy), and the latency of each
(the served one from the request's headers to its scores; the replayed one for the reranker's own work). The
logged queries can also be written as a candidate file for the judging tools (`rankwise judge --input`)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.io.candidates import write_candidates
from rankwise.pipelines.progress import OnProgress
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Candidate, Query, Ranking, Request


@dataclass
class ReplayRow:
    overlap: float  # |served top k & replayed top k| / min(k, documents)
    tau: float | None  # Kendall's tau between the two orders; None with fewer than 2 documents
    served_seconds: float
    replay_seconds: float


@dataclass
class ReplayReport:
    k: int
    rows: list[ReplayRow] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        taus = [r.tau for r in self.rows if r.tau is not None]
        served = sorted(r.served_seconds for r in self.rows)
        replayed = sorted(r.replay_seconds for r in self.rows)
        return {
            "requests": len(self.rows),
            f"overlap@{self.k}": statistics.fmean(r.overlap for r in self.rows) if self.rows else None,
            "kendall_tau": statistics.fmean(taus) if taus else None,
            "served_p50_s": _quantile(served, 0.5),
            "served_p90_s": _quantile(served, 0.9),
            "replay_p50_s": _quantile(replayed, 0.5),
            "replay_p90_s": _quantile(replayed, 0.9),
        }


def _quantile(values: Sequence[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def logged_request(number: int, record: dict[str, Any]) -> Request:
    """A logged request as the reranker's input: the documents under their logged ids (or positions)."""
    ids = record.get("ids") or [str(i) for i in range(len(record["documents"]))]
    query = Query(f"logged-{number}", record["query"], record.get("instruction"))
    return Request(query, [Candidate(str(d), text) for d, text in zip(ids, record["documents"])])


def replay(
    reranker: BaseReranker, records: Sequence[dict[str, Any]], k: int = 10, on_progress: OnProgress | None = None
) -> ReplayReport:
    from scipy.stats import kendalltau

    report = ReplayReport(k)
    if on_progress:
        on_progress(0, total=len(records))
    for number, record in enumerate(records):
        request = logged_request(number, record)
        start = time.perf_counter()
        ranking = reranker.rerank_batch([request])[0]
        seconds = time.perf_counter() - start
        position = {c.docid: i for i, c in enumerate(request.candidates)}
        replayed = [position[docid] for docid in ranking.docids]
        served = [int(i) for i in record["order"]]
        top = min(k, len(served))
        overlap = len(set(served[:top]) & set(replayed[:top])) / top if top else 1.0
        tau = None
        if len(served) > 1:
            rank_served = {doc: rank for rank, doc in enumerate(served)}
            rank_replayed = {doc: rank for rank, doc in enumerate(replayed)}
            documents = sorted(rank_served)
            value = kendalltau([rank_served[d] for d in documents], [rank_replayed[d] for d in documents]).statistic
            tau = None if value != value else float(value)  # NaN when one order is constant
        report.rows.append(ReplayRow(overlap, tau, float(record.get("seconds") or 0.0), seconds))
        if on_progress:
            on_progress(1)
    return report


def export_candidates(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    """The logged requests as a candidate file (in the order they were served), for `rankwise judge`."""
    rankings = []
    for number, record in enumerate(records):
        request = logged_request(number, record)
        served = [int(i) for i in record["order"]]
        rankings.append(Ranking.from_head(request, served, [float(len(served) - r) for r in range(len(served))]))
    write_candidates(rankings, path)

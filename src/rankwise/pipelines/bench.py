"""A matrix of rerankers over one candidate set in one process: every run is written with its sidecar,
then all are compared against the first stage."""

from __future__ import annotations

import gc
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankwise.io.collection import Collection
from rankwise.io.sidecar import write_sidecar
from rankwise.io.trec import write_run
from rankwise.pipelines.evaluate import Comparison, compare_runs, run_from_rankings
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.rerank import rerank_requests
from rankwise.rerankers.compose.spec import RerankerSpec
from rankwise.rerankers.registry import load_spec
from rankwise.types import Ranking


def run_bench(
    dataset: str | Path,
    rerankers: Sequence[RerankerSpec],
    out_dir: str | Path,
    first_stage: str = "bm25",
    top_k: int | None = 100,
    queries: int | None = None,
    options: dict[str, Any] | None = None,
    on_progress: OnProgress | None = None,
) -> Comparison:
    dataset = Path(dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    collection = Collection.open(dataset)
    requests = collection.candidates(first_stage)[:queries]
    qrels = collection.qrels(required="a bench")
    runs, metadata = {}, {}
    base_label = first_stage
    base_rankings = [Ranking.first_stage(r) for r in requests]
    runs[base_label] = run_from_rankings(base_rankings)
    metadata[base_label] = {"label": base_label, "reranker": None, "dataset": dataset.name, "first_stage": first_stage}
    write_run(base_rankings, out_dir / f"{first_stage}.trec", tag=first_stage)
    write_sidecar(out_dir / f"{first_stage}.trec", metadata[base_label])
    for spec in rerankers:
        if on_progress:
            on_progress(0, total=len(requests), note=spec.label)
        start = time.perf_counter()
        reranker = load_spec(spec, **(options or {}))
        load_seconds = time.perf_counter() - start
        report = rerank_requests(reranker, requests, top_k=top_k, on_progress=on_progress)
        # A run file's tag is one whitespace-free field, and spec strings hold spaces, braces and ">>".
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", spec.label.replace(":", "__")).strip("_")
        write_run(report.rankings, out_dir / f"{name}.trec", tag=name)
        metadata[spec.label] = {
            **reranker.describe(),
            "label": spec.label,
            "dataset": dataset.name,
            "first_stage": first_stage,
            "top_k": top_k,
            "queries": len(requests),
            "seconds_per_query": report.seconds_per_query,
            "docs_per_second": report.docs_per_second,
            "load_seconds": load_seconds,
        }
        write_sidecar(out_dir / f"{name}.trec", metadata[spec.label])
        runs[spec.label] = run_from_rankings(report.rankings)
        del reranker
        gc.collect()
    return compare_runs(runs, qrels, baseline=base_label, metadata=metadata)

"""Helpers shared by benchmark scripts: locating the shared test collections and measuring one
configuration in a fresh process, so its peak memory is its own."""

from __future__ import annotations

import multiprocessing
import resource
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def dataset_dir(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if not path.exists():
        path = DATA / name_or_path
    if not path.exists():
        sys.exit(f"test collection {name_or_path} not found (looked in {DATA}); benchmarks read ../shared/data")
    return path


def bm25_requests(dataset: str, queries: int | None) -> tuple[Path, Any, list, float]:
    """A collection's BM25 candidate file, qrels, its first `queries` requests and BM25's own nDCG@10 on them."""
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.types import Ranking

    data = dataset_dir(dataset)
    candidates = data / "bm25_top100.json"
    qrels = read_qrels(data / "qrels.txt")
    requests = read_candidates(candidates)[:queries]
    bm25 = evaluate(run_from_rankings(Ranking.first_stage(r) for r in requests), qrels)["nDCG@10"]
    return candidates, qrels, requests, bm25


def peak_rss_mib() -> float:
    """This process's own peak RSS. VmHWM where Linux has it: ru_maxrss is carried over from the parent
    across fork and exec, so a fresh child of a big process would report the parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rerank_config(model: str, method: str | None, candidates: str, queries: int | None, top_k: int | None,
                  options: dict[str, Any]) -> dict[str, Any]:
    """Runs in a child process: load, rerank, return the run and the costs."""
    from rankwise import Reranker
    from rankwise.io import read_candidates
    from rankwise.pipelines.evaluate import run_from_rankings
    from rankwise.pipelines.rerank import rerank_requests

    requests = read_candidates(candidates)[:queries]
    start = time.perf_counter()
    reranker = Reranker.load(model, method=method, **options)
    load_seconds = time.perf_counter() - start
    report = rerank_requests(reranker, requests, top_k=top_k)
    return {
        "run": run_from_rankings(report.rankings),
        "load_seconds": load_seconds,
        "seconds_per_query": report.seconds_per_query,
        "docs_per_second": report.docs_per_second,
        "peak_rss_mib": peak_rss_mib(),
        "queries": len(requests),
        "llm_calls_per_query": _mean_calls(report.rankings),
        "prompt_tokens_per_query": _prompt_tokens(len(requests)),
    }


def _prompt_tokens(queries: int) -> float | None:
    """Prompt tokens the transformers LM backends of this (fresh) process read, per query; None without one.
    The backends count them in `stats`; finding them by type keeps the methods unaware of benchmarks."""
    import gc

    from rankwise.backends.causal_lm import CausalLM

    # type() rather than isinstance(): some module proxies warn when their __class__ is read.
    counted = [o.stats["prompt_tokens"] for o in gc.get_objects() if type(o) is CausalLM]
    return sum(counted) / max(queries, 1) if counted else None


def _mean_calls(rankings: list) -> float | None:
    calls = [r.trace["llm_calls"] for r in rankings if "llm_calls" in r.trace]
    return sum(calls) / len(calls) if calls else None


def in_fresh_process(function, *args: Any) -> Any:
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def cost_quality_axis(axis: Any, points: list[tuple[str, float, float]], baseline: float, baseline_label: str) -> None:
    """nDCG@10 against seconds per query: one black marker per (label, seconds, nDCG@10) point and
    a dashed line for the first stage alone."""
    markers = "osD^v<>"
    for i, (label, seconds, ndcg) in enumerate(points):
        axis.scatter(seconds, ndcg, marker=markers[i % len(markers)], color="black", label=label)
    axis.axhline(baseline, linestyle="--", color="gray", label=baseline_label)
    seconds = [p[1] for p in points]
    # A log axis only where costs span a decade: within one, it would show no tick labels at all.
    logarithmic = bool(seconds) and max(seconds) / min(seconds) >= 10
    if logarithmic:
        axis.set_xscale("log")
    axis.set_xlabel("seconds per query (2-core CPU" + (", log scale)" if logarithmic else ")"))
    axis.set_ylabel("nDCG@10")
    # Below the axes, so it never hides a point.
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    axis.grid(True, which="both", linestyle=":", color="lightgray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base: str, timeout: float = 120.0) -> None:
    """Until `base`/ready answers 200 (the model has loaded)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base} not ready after {timeout} s")

"""Shared-prefix scoring for LLM pointwise methods (issue 42 item 1): the same prompts with `share_prefix`
on and off on the transformers backend (fp32), and on llama.cpp (which reuses the prefix of the previous
prompt in its own KV cache), side by side in one run.

    python benchmarks/shared_prefix.py --queries 3 --depths 20,100 [--model qwen2.5-coder-0.5b]

Two prompts: `relevance_yes_no` (the default: passage first, so only the chat template's head is shared)
and `qwen3_reranker` (system text, instruction and query first). For each prompt and depth: the share of
prompt tokens the shared prefix holds, seconds per query, docs/s, the speed-up over `share_prefix=false`,
the largest score difference from it, nDCG@10 on those queries and peak RSS. Each configuration runs in
its own process."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dataset_dir, in_fresh_process, peak_rss_mib  # noqa: E402


def measure(model: str, backend: str, share: bool, prompt: str, candidates: str, queries: int, depth: int,
            threads: int) -> dict:
    """Runs in a child process: score every (query, candidate) pair of the first `queries` requests."""
    from rankwise import Reranker
    from rankwise.io import read_candidates
    from rankwise.pipelines.evaluate import run_from_rankings
    from rankwise.types import Ranking, Request

    requests = [Request(r.query, r.candidates[:depth]) for r in read_candidates(Path(candidates))[:queries]]
    options = {"backend": backend, "threads": threads, "batch_size": 8}
    if backend == "transformers":
        options["share_prefix"] = share
    reranker = Reranker.load(model, method="llm-pointwise", prompt=prompt, **options)
    reranker.score_pairs([(requests[0].query, requests[0].candidates[0])] * 2)  # warm up
    stats = getattr(reranker.lm, "stats", None)
    if stats is not None:
        stats.clear()
    start = time.perf_counter()
    scores = [reranker.score_pairs([(r.query, c) for c in r.candidates]) for r in requests]
    seconds = time.perf_counter() - start
    rankings = [Ranking.from_scores(r, s) for r, s in zip(requests, scores)]
    return {
        "scores": [x for s in scores for x in s],
        "run": run_from_rankings(rankings),
        "seconds_per_query": seconds / len(requests),
        "docs_per_second": sum(len(r.candidates) for r in requests) / seconds,
        "prompt_tokens": (stats or {}).get("prompt_tokens"),
        "shared_tokens": (stats or {}).get("shared_prefix_tokens", 0),
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--queries", type=int, default=3)
    parser.add_argument("--depths", default="20,100")
    parser.add_argument("--prompts", default="relevance_yes_no,qwen3_reranker")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-llama-cpp", action="store_true")
    parser.add_argument("--out", default=None, help="write the table as text here")
    args = parser.parse_args()

    from rankwise.io import read_qrels
    from rankwise.pipelines.evaluate import evaluate

    data = dataset_dir(args.dataset)
    qrels = read_qrels(data / "qrels.txt")
    candidates = str(data / "bm25_top100.json")
    table = Table(title=f"share_prefix, {args.model}, {args.dataset}, {args.queries} queries, {args.threads} threads")
    for column in ("prompt", "depth", "path", "prefix share", "s/query", "docs/s", "speed-up", "max |diff|",
                   "nDCG@10", "peak MiB"):
        table.add_column(column, justify="left" if column in ("prompt", "path") else "right")
    for prompt in args.prompts.split(","):
        for depth in (int(d) for d in args.depths.split(",")):
            paths = [("transformers", False), ("transformers", True)] + ([] if args.no_llama_cpp else [("llama.cpp", True)])
            results = {}
            for backend, share in paths:
                label = backend if backend != "transformers" else f"transformers share_prefix={str(share).lower()}"
                results[label] = in_fresh_process(
                    measure, args.model, backend, share, prompt, candidates, args.queries, depth, args.threads
                )
            plain = results["transformers share_prefix=false"]
            for label, r in results.items():
                share = (r["shared_tokens"] / plain["prompt_tokens"]) if "true" in label else None
                diff = max(abs(a - b) for a, b in zip(r["scores"], plain["scores"])) if "transformers" in label else None
                table.add_row(
                    prompt, str(depth), label,
                    "-" if share is None else f"{share:.0%}",
                    f"{r['seconds_per_query']:.2f}", f"{r['docs_per_second']:.1f}",
                    f"{plain['seconds_per_query'] / r['seconds_per_query']:.2f}x",
                    "-" if diff is None else f"{diff:.1e}",
                    f"{evaluate(r['run'], qrels)['nDCG@10']:.4f}", f"{r['peak_rss_mib']:.0f}",
                )
                print(label, prompt, depth, f"{r['seconds_per_query']:.2f} s/query", flush=True)
    console = Console(width=160)
    console.print(table)
    if args.out:
        with open(args.out, "w") as f:
            Console(file=f, width=160).print(table)


if __name__ == "__main__":
    main()

"""Reasoning rerankers against their thinking budget: every reasoning method at each budget, side by side in
one run, each configuration in a fresh process: nDCG@10, reasoning tokens per query, seconds per query, peak
RSS and the share of judgments (passages, comparisons, windows, groups) that hit the budget.

The issue's configuration (Qwen2.5-Coder-1.5B and 0.5B on llama.cpp, DL 2019 BM25, first 5 queries, top 10):

    cd benchmarks && python reasoning.py --models qwen2.5-coder-0.5b,qwen2.5-coder-1.5b --budgets 0,64,256 \\
        --queries 5 --top-k 10 --threads 1 --results results/reasoning_rows.jsonl --plot results/reasoning.png

`--results` keeps every finished row (committed: results/reasoning_rows.jsonl), so the same command run again
skips them and goes on where a killed run stopped.

Small instruct models were not trained to reason about relevance: gains are not expected, the numbers say
what the mechanism costs.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _common import bm25_requests, in_fresh_process, peak_rss_mib

# The method, its options at a budget (no preset: these models are not the presets' checkpoints).
METHODS = {
    "reasoning-pointwise": {},
    "graded-pointwise": {},
    "reasoning-setwise": {"set_size": 5, "top_n": 5},
    "reasoning-listwise": {"window": 10, "stride": 5, "alphabet": "numeric", "prompt": "reasonrank"},
    "groupwise": {"group_size": 5},
}


def run_one(model: str, method: str, options: dict, candidates: str, queries: int, top_k: int) -> dict:
    """In a child process: load, rerank the first `queries` lists' top `top_k`, and read the traces."""
    from rankwise import Reranker
    from rankwise.io import read_candidates
    from rankwise.pipelines.evaluate import run_from_rankings
    from rankwise.pipelines.rerank import rerank_requests

    requests = read_candidates(candidates)[:queries]
    reranker = Reranker.load(model, method=method, **options)
    start = time.perf_counter()
    report = rerank_requests(reranker, requests, top_k=top_k)
    seconds = time.perf_counter() - start
    judgments = hits = tokens = 0
    for ranking in report.rankings:
        trace = ranking.trace
        entries = (trace.get("reasoning") or trace.get("comparisons") or trace.get("groups")
                   or trace.get("windows") or [])
        judgments += len(entries)
        hits += sum(e.get("ended") == "budget" for e in entries)
        tokens += sum(e.get("reasoning_tokens", 0) for e in entries)
    return {"run": run_from_rankings(report.rankings), "seconds_per_query": seconds / max(len(requests), 1),
            "tokens_per_query": tokens / max(len(requests), 1), "budget_share": hits / judgments if judgments else 0.0,
            "peak_rss_mib": peak_rss_mib()}


def _finished_rows(path: str | None, dataset: str, queries: int, top_k: int) -> dict[tuple[str, str, int], dict]:
    """Rows an earlier run of the same configuration wrote to `path`."""
    if not path or not os.path.exists(path):
        return {}
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    return {(r["model"], r["method"], r["budget"]): r for r in rows
            if (r["dataset"], r["queries"], r["top_k"]) == (dataset, queries, top_k)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--models", default="qwen2.5-coder-0.5b")
    parser.add_argument("--backend", default="llama.cpp")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--budgets", default="0,64,256")
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of each model (default: the backend's)")
    parser.add_argument("--results", default=None,
                        help="JSONL of finished rows: rows already in it are not run again, so a killed run resumes")
    parser.add_argument("--plot", default=None, help="PNG of nDCG@10 and seconds per query against the budget")
    args = parser.parse_args()
    from rankwise.pipelines.evaluate import evaluate

    candidates, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    print(f"{args.dataset}, first {len(requests)} queries, BM25 top {args.top_k} (BM25 nDCG@10 {bm25:.4f}); "
          f"backend {args.backend}")
    print("| model | method | budget | nDCG@10 | reasoning tokens/query | s/query | peak MiB | share at budget |")
    print("|---|---|---|---|---|---|---|---|")
    finished = _finished_rows(args.results, args.dataset, args.queries, args.top_k)
    points: dict[tuple[str, str], list[tuple[int, float, float]]] = {}
    for model in args.models.split(","):
        for method in args.methods.split(","):
            for budget in (int(b) for b in args.budgets.split(",")):
                row = finished.get((model, method, budget))
                if row is None:
                    options = {**METHODS[method], "reasoning_budget": budget, "backend": args.backend}
                    if args.threads:
                        options["threads"] = args.threads
                    result = in_fresh_process(run_one, model, method, options, str(candidates), args.queries,
                                              args.top_k)
                    row = {"dataset": args.dataset, "queries": args.queries, "top_k": args.top_k, "model": model,
                           "method": method, "budget": budget, "ndcg": evaluate(result["run"], qrels)["nDCG@10"],
                           **{k: result[k] for k in ("tokens_per_query", "seconds_per_query", "peak_rss_mib",
                                                      "budget_share")}}
                    if args.results:
                        with open(args.results, "a", encoding="utf-8") as out:
                            out.write(json.dumps(row) + "\n")
                points.setdefault((model, method), []).append((budget, row["ndcg"], row["seconds_per_query"]))
                print(f"| {model} | {method} | {budget} | {row['ndcg']:.4f} | {row['tokens_per_query']:.0f} | "
                      f"{row['seconds_per_query']:.1f} | {row['peak_rss_mib']:.0f} | "
                      f"{row['budget_share']:.0%} |", flush=True)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (quality, cost) = plt.subplots(1, 2, figsize=(11, 4))
        # One colour per method, one line style per model, so the two sizes of a method read as a pair.
        colours = {m: f"C{i}" for i, m in enumerate(dict.fromkeys(m for _, m in points))}
        styles = {m: s for m, s in zip(dict.fromkeys(m for m, _ in points), ("--", "-", ":", "-."))}
        for (model, method), rows in points.items():
            budgets = [r[0] for r in rows]
            look = {"marker": "o", "color": colours[method], "linestyle": styles.get(model, "-"),
                    "label": f"{method} ({model})"}
            quality.plot(budgets, [r[1] for r in rows], **look)
            cost.plot(budgets, [r[2] for r in rows], **look)
        quality.axhline(bm25, linestyle=(0, (1, 3)), color="gray", label="BM25")
        quality.set_xlabel("reasoning budget (tokens)")
        quality.set_ylabel("nDCG@10")
        cost.set_xlabel("reasoning budget (tokens)")
        cost.set_ylabel("seconds per query (2-core CPU)")
        quality.legend(fontsize=6)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()

"""Pointwise and embedding rerankers side by side on a TREC DL candidate set.

    python benchmarks/pointwise.py --dataset dl19 [--queries N] [--llm-queries M] [--plot out.png]

Prints nDCG@10 (ir-measures), seconds per query, docs/s, load time and peak memory for each
(method, model), beside the first stage on the same queries. Each configuration runs in its own
process. LLM configurations are slow on a CPU: --llm-queries caps them separately."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cost_quality_axis, dataset_dir, in_fresh_process, rerank_config  # noqa: E402

CONFIGS = [
    ("embedding", "minilm-embed", "embedding"),
    ("llm-pointwise", "smollm2-135m", "llm-pointwise"),
    ("query-likelihood", "smollm2-135m", "query-likelihood"),
    ("llm-pointwise", "qwen2.5-coder-0.5b", "llm-pointwise"),
    ("query-likelihood", "qwen2.5-coder-0.5b", "query-likelihood"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--first-stage", default="bm25", choices=["bm25", "splade_pp_ed"])
    parser.add_argument("--queries", type=int, default=None, help="cap for every configuration")
    parser.add_argument("--llm-queries", type=int, default=None, help="cap for LLM configurations")
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--only", default=None, help="comma-separated models to run (default: all)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--plot", default=None, help="write an nDCG@10 vs. seconds/query PNG here")
    parser.add_argument("--json", default=None, help="write the table as JSON here")
    args = parser.parse_args()

    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.types import Ranking

    data = dataset_dir(args.dataset)
    candidates = data / f"{args.first_stage}_top100.json"
    qrels = read_qrels(data / "qrels.txt")
    requests = read_candidates(candidates)
    rows = []
    console = Console(width=170)
    chosen = [c for c in CONFIGS if not args.only or c[1] in args.only.split(",")]
    for label, model, method in chosen:
        cap = args.queries if method == "embedding" else (args.llm_queries or args.queries)
        console.print(f"running {label} / {model} on {cap or len(requests)} queries ...")
        result = in_fresh_process(rerank_config, model, method, str(candidates), cap, args.top_k,
                                  {"batch_size": args.batch_size})
        subset = requests[: result["queries"]]
        first_stage = run_from_rankings(Ranking.first_stage(r) for r in subset)
        rows.append({
            "method": label, "model": model, "queries": result["queries"],
            "ndcg@10": evaluate(result["run"], qrels, ["nDCG@10"])["nDCG@10"],
            "first_stage_ndcg@10": evaluate(first_stage, qrels, ["nDCG@10"])["nDCG@10"],
            **{k: result[k] for k in ("seconds_per_query", "docs_per_second", "load_seconds", "peak_rss_mib")},
        })
        print_table(console, rows, args.first_stage)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if args.plot:
        plot(rows, args.plot)
        console.print(f"plot written to {args.plot}")


def print_table(console: Console, rows: list[dict], first_stage: str) -> None:
    table = Table(title=f"pointwise rerankers over {first_stage} top-100")
    for column in ("method", "model", "queries", "nDCG@10", f"{first_stage} nDCG@10 (same queries)",
                   "s/query", "docs/s", "load s", "peak MiB"):
        table.add_column(column, justify="right" if column not in ("method", "model") else "left")
    for r in rows:
        table.add_row(r["method"], r["model"], str(r["queries"]), f"{r['ndcg@10']:.4f}",
                      f"{r['first_stage_ndcg@10']:.4f}", f"{r['seconds_per_query']:.2f}",
                      f"{r['docs_per_second']:.1f}", f"{r['load_seconds']:.1f}", f"{r['peak_rss_mib']:.0f}")
    console.print(table)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    points = [(f"{r['method']} / {r['model']} ({r['queries']} q)", r["seconds_per_query"], r["ndcg@10"]) for r in rows]
    cost_quality_axis(ax, points, rows[0]["first_stage_ndcg@10"], "first stage")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

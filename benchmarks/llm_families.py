"""The LLM reranking families side by side on the same queries and candidates: pointwise yes/no, query
likelihood, FIRST, listwise generation, PRP (pairwise), setwise, ICR (attention) and JointRank, zero-shot,
and two cascades (MiniLM MaxSim over the candidates, then FIRST or query likelihood over its top 10), next
to MaxSim alone.

    python benchmarks/llm_families.py [--model qwen2.5-coder-0.5b] [--queries 10] [--top-k 20]

Each row runs in its own process on TREC DL 2019 BM25 candidates (the first --queries queries, their top
--top-k): nDCG@10 (ir-measures), seconds per query, LLM prompts per query where the method counts them
(PRP, setwise), and peak RSS. The sorting methods settle the top 10."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bm25_requests, in_fresh_process, rerank_config  # noqa: E402

ROWS = [
    ("llm-pointwise", {}),
    ("query-likelihood", {}),
    ("first", {"window": 10, "stride": 5, "max_words": 60}),
    ("listwise-generate", {"window": 10, "stride": 5, "max_words": 60}),
    ("prp", {"variant": "heapsort", "top_n": 10}),
    ("prp", {"variant": "sliding", "top_n": 3}),
    ("setwise", {"set_size": 3, "top_n": 10}),
    ("icr", {}),
    ("jointrank", {"block_size": 10, "replicas": 2, "max_words": 60}),
    ("maxsim", {}),  # MiniLM alone: the cascades' first stage, for reference
    ("cascade", {}),
    ("cascade-ql", {}),
]


def row_model(method: str, llm: str) -> tuple[str, str | None]:
    """(model or spec, method) a row loads: the LLM for the LLM methods; MiniLM for `maxsim`; the cascade is a
    spec string that names its own methods."""
    if method == "maxsim":
        return "minilm-embed", "maxsim"
    if method == "cascade":
        return f"maxsim:minilm-embed >> first:{llm}{{window=10, stride=5, max_words=60}}@10", None
    if method == "cascade-ql":
        return f"maxsim:minilm-embed >> query-likelihood:{llm}@10", None
    return llm, method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", default=None, help="comma-separated subset of the rows' methods")
    args = parser.parse_args()

    from rankwise.pipelines.evaluate import evaluate

    candidates, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    wanted = set(args.methods.split(",")) if args.methods else None
    console = Console(width=200)
    table = Table(title=f"{args.model} zero-shot on {args.dataset} BM25 top-{args.top_k}, {len(requests)} queries "
                        f"(BM25 alone: nDCG@10 {bm25:.4f})")
    for column in ("method", "options", "nDCG@10", "s/query", "LLM prompts/query", "prompt tokens/query", "peak MiB"):
        table.add_column(column)
    for method, options in ROWS:
        if wanted and method not in wanted:
            continue
        console.print(f"{method} {options} ...")
        model, chosen = row_model(method, args.model)
        result = in_fresh_process(rerank_config, model, chosen, str(candidates), args.queries, args.top_k,
                                  {**options, "threads": args.threads})
        calls, tokens = result["llm_calls_per_query"], result["prompt_tokens_per_query"]
        described = model if method in ("cascade", "cascade-ql", "maxsim") else ", ".join(f"{k}={v}" for k, v in options.items())
        table.add_row(method, described or "-",
                      f"{evaluate(result['run'], qrels)['nDCG@10']:.4f}", f"{result['seconds_per_query']:.1f}",
                      "-" if calls is None else f"{calls:.0f}", "-" if tokens is None else f"{tokens:.0f}",
                      f"{result['peak_rss_mib']:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()

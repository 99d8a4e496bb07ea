"""The same LLM methods on several backends, side by side: transformers fp32 (GGUF dequantized), transformers
with torch dynamic int8, and llama.cpp (the GGUF file as shipped), on TREC DL 2019 BM25 candidates.

    python benchmarks/backends.py [--models qwen2.5-coder-0.5b] [--methods first,query-likelihood]
        [--queries 10] [--top-k 20] [--plot out.png]

Each (model, method, backend) runs in its own process: nDCG@10 (ir-measures), seconds per query, docs/s,
load seconds (the first transformers load also dequantizes once into the cache) and peak RSS. FIRST uses
windows of 10 with stride 5 over the top-k; the pointwise methods score every pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bm25_requests, cost_quality_axis, in_fresh_process, rerank_config  # noqa: E402

BACKENDS = {"transformers fp32": {"backend": "transformers"},
            "transformers int8": {"backend": "transformers", "quantize": "int8"},
            "llama.cpp (GGUF)": {"backend": "llama.cpp"}}
REFERENCE = "transformers fp32"
OPENAI = "openai (llama.cpp server)"  # the same GGUF behind llama-cpp-python's OpenAI-compatible server
METHOD_OPTIONS = {"first": {"window": 10, "stride": 5, "max_words": 60},
                  "listwise-generate": {"window": 10, "stride": 5, "max_words": 60}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--models", default="qwen2.5-coder-0.5b")
    parser.add_argument("--methods", default="first,query-likelihood")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--backends", default=",".join(BACKENDS), help="rows to run, from: "
                        + ", ".join([*BACKENDS, OPENAI]))
    parser.add_argument("--top-logprobs", type=int, default=20,
                        help="for the openai row: log-probs the server returns per position")
    args = parser.parse_args()

    from rankwise.pipelines.evaluate import evaluate

    candidates, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    console = Console(width=200)
    rows = []
    chosen = args.backends.split(",")
    for model in args.models.split(","):
        server = start_openai_server(model, args.threads) if OPENAI in chosen else None
        rows_for = {name: BACKENDS[name] for name in chosen if name in BACKENDS}
        if server is not None:
            rows_for[OPENAI] = {"backend": "openai", "base_url": server[1], "top_logprobs": args.top_logprobs}
        for method in args.methods.split(","):
            for backend, backend_options in rows_for.items():
                options = {**METHOD_OPTIONS.get(method, {}), **backend_options}
                if backend != OPENAI:
                    options["threads"] = args.threads
                console.print(f"{model} {method} on {backend}, {len(requests)} queries, top {args.top_k} ...")
                result = in_fresh_process(rerank_config, model, method, str(candidates), args.queries,
                                          args.top_k, options)
                rows.append({"model": model, "method": method, "backend": backend,
                             "ndcg": evaluate(result["run"], qrels)["nDCG@10"], **result})
        if server is not None:
            server[0].terminate()
            server[0].wait(timeout=60)
    table = Table(title=f"backends on {args.dataset} BM25 top-{args.top_k}, {len(requests)} queries "
                        f"(BM25 alone: nDCG@10 {bm25:.4f})")
    for column in ("model", "method", "backend", "nDCG@10", "s/query", "docs/s", "load s", "peak MiB",
                   "speed-up"):
        table.add_column(column, justify="left" if column in ("model", "method", "backend") else "right")
    by_key = {(r["model"], r["method"], r["backend"]): r for r in rows}
    for r in rows:
        reference = by_key.get((r["model"], r["method"], REFERENCE))
        speedup = reference["seconds_per_query"] / r["seconds_per_query"] if reference else None
        table.add_row(r["model"], r["method"], r["backend"], f"{r['ndcg']:.4f}", f"{r['seconds_per_query']:.2f}",
                      f"{r['docs_per_second']:.1f}", f"{r['load_seconds']:.1f}", f"{r['peak_rss_mib']:.0f}",
                      f"{speedup:.2f}x" if speedup else "-")
    console.print(table)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7.5, 5.2))
        cost_quality_axis(axis, [(f"{r['model']} {r['method']} ({r['backend']})", r["seconds_per_query"], r["ndcg"])
                                 for r in rows], bm25, "BM25 alone")
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        console.print(f"plot written to {args.plot}")


def start_openai_server(model: str, threads: int) -> tuple:
    """llama-cpp-python's server on the model's GGUF, on a free loopback port: (process, base URL)."""
    import subprocess
    import time

    import httpx

    from _common import free_port
    from rankwise.models.resolve import resolve_gguf

    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", resolve_gguf(model).path,
                                "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads",
                                str(threads), "--model_alias", model],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"llama_cpp.server did not start for {model} (pip install 'llama-cpp-python[server]')")
        time.sleep(0.3)


if __name__ == "__main__":
    main()

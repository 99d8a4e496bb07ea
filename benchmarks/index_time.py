"""Reranking from a forward index against encoding on the fly, side by side in one run: for embedding,
maxsim and fast-forward on a collection's BM25 top-100, nDCG@10, seconds per query, passages per second
and index size, with the index built over the candidate pools of the queries used (float32, float16, int8).

    python benchmarks/index_time.py [--dataset dl19] [--queries 43] [--model minilm-embed] [--out out/index_time]

Not yet here (issue 27): fast-forward-indexes 0.8 in its own venv on the same encoder and candidates."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bm25_requests  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--out", default="out/index_time")
    args = parser.parse_args()
    from rankwise import Reranker
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.pipelines.index import build_forward_index

    _, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    pool = list({c.docid: c for r in requests for c in r.candidates}.values())
    out = Path(args.out)
    indexes = {}
    for dtype in ("float32", "float16", "int8"):
        folder = out / dtype
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        built = build_forward_index(pool, folder, args.model, token_vectors=True, dtype=dtype)
        indexes[dtype] = (folder, built.bytes_on_disk(), time.perf_counter() - start)
        print(f"{dtype}: {len(pool)} passages indexed in {indexes[dtype][2]:.0f} s, "
              f"{indexes[dtype][1] / 2**20:.1f} MiB")
    rows = []
    passages = sum(len(r.candidates) for r in requests)
    for method in ("embedding", "maxsim", "fast-forward"):
        for source in ("on the fly", "float32", "float16", "int8"):
            options = {} if source == "on the fly" else {"index": str(indexes[source][0])}
            reranker = Reranker.load(args.model, method=method, **options)
            reranker.rerank_batch(requests[:1])  # warm-up
            start = time.perf_counter()
            rankings = reranker.rerank_batch(requests)
            seconds = time.perf_counter() - start
            ndcg = evaluate(run_from_rankings(rankings), qrels)["nDCG@10"]
            rows.append((method, source, ndcg, seconds / len(requests), passages / seconds,
                         indexes[source][1] / 2**20 if source in indexes else None))
    table = Table(title=f"{args.dataset} BM25 top-100, {len(requests)} queries (BM25 nDCG@10 {bm25:.4f}); "
                        f"index with token vectors over {len(pool)} passages")
    for column in ("method", "passage vectors", "nDCG@10", "s/query", "passages/s", "index MiB", "speed-up"):
        table.add_column(column, justify="left" if column in ("method", "passage vectors") else "right")
    baseline = {m: s for m, src, _, s, _, _ in rows if src == "on the fly"}
    for method, source, ndcg, per_query, rate, size in rows:
        table.add_row(method, source, f"{ndcg:.4f}", f"{per_query:.3f}", f"{rate:.0f}",
                      "-" if size is None else f"{size:.1f}", f"{baseline[method] / per_query:.1f}x")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()

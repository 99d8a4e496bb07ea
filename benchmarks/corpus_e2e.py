"""End to end from a raw corpus: the unique passages of a candidate file become a small corpus, bm25s
indexes it, the topics are searched, the candidates reranked, and everything is evaluated together.

    python benchmarks/corpus_e2e.py --dataset dl19 [--rerankers minilm-embed] [--top-k 100]

The BM25 figures are not the official ones: the corpus is only the passages that some first stage
already retrieved (about 4,300 for dl19, not 8.8 million), which makes retrieval much easier."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dataset_dir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--rerankers", default="minilm-embed")
    parser.add_argument("--top-k", type=int, default=100)
    args = parser.parse_args()

    from rankwise import Reranker, reporting
    from rankwise.io import read_candidates, read_qrels, read_topics
    from rankwise.pipelines.evaluate import compare_runs, run_from_rankings
    from rankwise.pipelines.rerank import rerank_requests
    from rankwise.pipelines.retrieve import BM25Index
    from rankwise.types import Candidate, Ranking

    console = Console(width=200)
    data = dataset_dir(args.dataset)
    passages: dict[str, str] = {}
    for request in read_candidates(data / "bm25_top100.json"):
        for c in request.candidates:
            passages.setdefault(c.docid, c.text)
    qrels = read_qrels(data / "qrels.txt")
    topics = [t for t in read_topics(data / "topics.tsv") if t.qid in qrels]
    start = time.perf_counter()
    index = BM25Index.build([Candidate(d, t) for d, t in passages.items()])
    with tempfile.TemporaryDirectory() as folder:
        index.save(folder)
        index = BM25Index.load(folder)
    build = time.perf_counter() - start
    start = time.perf_counter()
    requests = index.search(topics, k=args.top_k)
    search = time.perf_counter() - start
    console.print(f"{len(passages)} unique passages indexed in {build:.1f} s; {len(topics)} topics searched in "
                  f"{search * 1000:.0f} ms")
    runs = {"bm25s (small corpus)": run_from_rankings(
        Ranking.first_stage(r) for r in requests)}
    official = read_candidates(data / "bm25_top100.json")
    runs["anserini bm25 (official candidates)"] = run_from_rankings(
        Ranking.first_stage(r) for r in official)
    metadata = {}
    for name in args.rerankers.split(","):
        reranker = Reranker.load(name)
        report = rerank_requests(reranker, requests, top_k=args.top_k)
        label = f"bm25s + {name}"
        runs[label] = run_from_rankings(report.rankings)
        metadata[label] = {"seconds_per_query": report.seconds_per_query}
    comparison = compare_runs(runs, qrels, baseline="bm25s (small corpus)", metadata=metadata)
    console.print(reporting.rich_table(comparison))


if __name__ == "__main__":
    main()

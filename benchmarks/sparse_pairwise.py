"""Sparse pairwise reranking on DL 2019 (issue 40, item 3): nDCG@10 against the number of comparisons, per
sampler and aggregator, side by side in one run. Every pair of a query's BM25 top k is judged once in both
orders by PRP (the LLM's preference does not depend on which other pairs are judged), then each sampler's
pairs at each budget are aggregated from those judgments; wall time per query is the judging time of the
sampled pairs (their share of the measured full judging time), so rows compare at equal cost.

    python benchmarks/sparse_pairwise.py --model smollm2-135m --queries 10 --top-k 20 --budgets 20,40,80
"""

from __future__ import annotations

import argparse
import time

from _common import bm25_requests, peak_rss_mib

from rankwise import Reranker
from rankwise.pipelines.evaluate import evaluate, run_from_rankings
from rankwise.rerankers.pairwise.prp import PairwiseJudge
from rankwise.rerankers.pairwise.sparse import SAMPLERS, sampled_pairs
from rankwise.rerankers.shared.pairwise_aggregation import AGGREGATORS
from rankwise.types import Ranking


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=20)
    parser.add_argument("--budgets", default="20,40,80")
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    _, qrels, requests, bm25 = bm25_requests(arguments.dataset, arguments.queries)
    loaded = Reranker.load(arguments.model, method="sparse-pairwise", threads=arguments.threads, batch_size=16)
    k = arguments.top_k
    every = sorted(sampled_pairs("full", k, k * k, 0))
    judged, seconds = [], []
    for request in requests:
        passages = loaded.head_passages(request)[:k]
        judge = PairwiseJudge(loaded.lm, loaded.options.prompt, request.query.text, passages)
        start = time.perf_counter()
        judged.append(judge.probabilities(every))
        seconds.append(time.perf_counter() - start)
        print(f"judged {len(judged)}/{len(requests)} queries ({seconds[-1]:.1f} s)", flush=True)
    per_pair = sum(seconds) / len(requests) / len(every)
    budgets = [int(b) for b in arguments.budgets.split(",")]
    print(f"\n{arguments.dataset}, {len(requests)} queries, BM25 top {k}, {arguments.model}; BM25 nDCG@10 {bm25:.4f}")
    print(f"{'sampler':<10} {'pairs':>6} " + " ".join(f"{a:>13}" for a in AGGREGATORS) + "   s/query")
    for sampler in SAMPLERS:
        for budget in budgets if sampler != "full" else [len(every)]:
            pairs = sampled_pairs(sampler, k, budget, 0)  # the same positions for every query
            sampled = [
                {(a, b): p for (a, b), p in judgments.items() if (min(a, b), max(a, b)) in pairs}
                for judgments in judged
            ]
            row = []
            for aggregate in AGGREGATORS.values():
                rankings = []
                for request, preferences in zip(requests, sampled):
                    scores = aggregate(k, preferences)
                    order = sorted(range(k), key=lambda i: (-scores[i], i))
                    rankings.append(Ranking.from_head(request, order, [scores[i] for i in order]))
                row.append(evaluate(run_from_rankings(rankings), qrels)["nDCG@10"])
            count = len(pairs)
            print(
                f"{sampler:<10} {count:>6} " + " ".join(f"{v:>13.4f}" for v in row) + f"   {count * per_pair:7.1f}",
                flush=True,
            )
    print(
        f"\nfull judging: {sum(seconds) / len(requests):.1f} s/query ({1 / per_pair:.1f} pairs/s, both orders); "
        f"peak RSS {peak_rss_mib():.0f} MiB"
    )


if __name__ == "__main__":
    main()

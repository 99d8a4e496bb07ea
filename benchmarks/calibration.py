"""Calibration, side by side: each reranker is calibrated on DL 2021 (BM25 top-K) and evaluated on DL 2019
(never fitted on), before (the service's monotone mapping by score kind) and after calibration: expected
calibration error (15 bins), Brier score, log loss, and precision / recall of `min_probability=0.5`; a
reliability diagram per reranker (PNG). Then the adaptive cut-off: the share of DL 2019 queries whose prefix
holds a relevant passage against the requested coverage, and the mean passages kept against the fixed top-k
that reaches the same coverage.

    python benchmarks/calibration.py --queries 0 --llm-queries 8 --top-k 100 --plot out/calibration.png

`--queries 0` uses every judged query; LLM rerankers run on the first `--llm-queries` of each collection (they
are slow on 2 cores), and `--llm-top-k` candidates.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import dataset_dir, peak_rss_mib

RERANKERS = [  # (label, model, method, uses the LLM query budget)
    ("embedding (minilm-embed)", "minilm-embed", "embedding", False),
    ("maxsim (minilm-embed)", "minilm-embed", "maxsim", False),
    ("minilm-maxsim-fusion-dl21 (trained on DL21: fitted in-sample)", "minilm-maxsim-fusion-dl21", None, False),
    ("llm-pointwise (smollm2-135m)", "smollm2-135m", "llm-pointwise", True),
    ("query-likelihood (smollm2-135m)", "smollm2-135m", "query-likelihood", True),
]
COVERAGES = (0.8, 0.9, 0.95)


def evaluate_on(reranker, calibration, collection, first_stage, top_k, queries):
    """Uncalibrated relevance, calibrated probability, labels and per-query (scores, ranks, labels) on a
    collection's judged queries."""
    from rankwise.io.collection import Collection
    from rankwise.types import Request

    folder = Collection.open(collection)
    qrels = folder.qrels(required="evaluation")
    requests = [Request(r.query, r.candidates[:top_k]) for r in folder.candidates(first_stage)
                if r.query.qid in qrels][: queries or None]
    mapped, calibrated, labels, lists = [], [], [], []
    for start in range(0, len(requests), 4):
        for ranking in reranker.rerank_batch(requests[start:start + 4]):
            scores = [r.score for r in ranking.results]
            ranks = [r.rank for r in ranking.results]
            judged = qrels[ranking.query.qid]
            row_labels = [int(judged.get(r.docid, 0) >= calibration.relevance_level) for r in ranking.results]
            mapped += ranking.score_kind.to_unit_interval(scores)
            calibrated += calibration.probabilities(scores, ranks, len(scores))
            labels += row_labels
            lists.append((scores, ranks, row_labels))
    return mapped, calibrated, labels, lists


def precision_recall(probabilities, labels, threshold=0.5):
    kept = [label for p, label in zip(probabilities, labels) if p >= threshold]
    relevant = sum(labels)
    return (sum(kept) / len(kept) if kept else float("nan")), (sum(kept) / relevant if relevant else float("nan"))


def cutoff_rows(calibration, lists):
    """Per requested coverage: achieved coverage, mean kept, and the fixed k with the same coverage."""
    coverable = [(s, r, y) for s, r, y in lists if any(y)]
    first_relevant = sorted(min(rank for rank, label in zip(r, y) if label) for s, r, y in coverable)
    rows = []
    for coverage in COVERAGES:
        depth = calibration.cutoff_depth(coverage)
        kept, covered = [], 0
        for scores, ranks, labels in coverable:
            inside = [d <= depth for d in calibration.prefix_depths(scores, ranks, len(scores))]
            kept.append(sum(inside))
            covered += any(i and label for i, label in zip(inside, labels))
        achieved = covered / len(coverable)
        # the smallest fixed k whose top-k holds a relevant passage for at least the same share of queries
        needed = next((k for k in range(1, 1 + max(len(s) for s, _, _ in coverable))
                       if sum(f <= k for f in first_relevant) >= achieved * len(coverable) - 1e-9), None)
        rows.append((coverage, achieved, sum(kept) / len(kept), needed, len(coverable), len(lists)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", default="dl21")
    parser.add_argument("--evaluate", default="dl19")
    parser.add_argument("--first-stage", default="bm25")
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--queries", type=int, default=0, help="judged queries per collection (0: all)")
    parser.add_argument("--llm-queries", type=int, default=8)
    parser.add_argument("--llm-top-k", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated labels' first words to run (default all)")
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    from rankwise import Reranker
    from rankwise.pipelines.calibrate import calibrate, calibration_metrics

    fit_dir, eval_dir = dataset_dir(args.fit), dataset_dir(args.evaluate)
    chosen = [r for r in RERANKERS if not args.only or r[0].split()[0] in args.only.split(",")]
    print(f"fit on {args.fit}, evaluated on {args.evaluate} ({args.first_stage}); relevant = grade >= 2")
    table, cutoffs, curves = [], [], []
    for label, model, method, is_llm in chosen:
        queries = args.llm_queries if is_llm else args.queries
        top_k = args.llm_top_k if is_llm else args.top_k
        reranker = Reranker.load(model, method=method)
        start = time.perf_counter()
        calibration, report = calibrate(reranker, [fit_dir], held_out=[eval_dir], first_stage=args.first_stage,
                                        top_k=top_k, queries=queries or None)
        fit_seconds = time.perf_counter() - start
        mapped, calibrated, labels, lists = evaluate_on(reranker, calibration, eval_dir, args.first_stage, top_k,
                                                        queries)
        before, after = calibration_metrics(mapped, labels), calibration_metrics(calibrated, labels)
        table.append((label, calibration, report, before, after, precision_recall(mapped, labels),
                      precision_recall(calibrated, labels), fit_seconds, len(lists), top_k, peak_rss_mib()))
        cutoffs.append((label, cutoff_rows(calibration, lists)))
        curves.append((label, mapped, calibrated, labels))
    print("| reranker | queries fit/eval | top-k | map (feature) | ECE before → after | Brier before → after | "
          "log loss before → after | P/R at 0.5 before | P/R at 0.5 after | fit s | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (label, calibration, report, before, after, pr_before, pr_after, seconds, evaluated, top_k, rss) in table:
        print(f"| {label} | {report['data']['queries']}/{evaluated} | {top_k} | {calibration.map} "
              f"({calibration.feature}) | {before['ece']:.3f} → {after['ece']:.3f} | {before['brier']:.3f} → "
              f"{after['brier']:.3f} | {before['log_loss']:.3f} → {after['log_loss']:.3f} | "
              f"{pr_before[0]:.2f}/{pr_before[1]:.2f} | {pr_after[0]:.2f}/{pr_after[1]:.2f} | {seconds:.0f} | "
              f"{rss:.0f} |")
    print()
    print("| reranker | requested coverage | achieved on eval | mean passages kept | fixed k for the same coverage |"
          " queries with a relevant passage / all |")
    print("|---|---|---|---|---|---|")
    for label, rows in cutoffs:
        for coverage, achieved, kept, needed, coverable, total in rows:
            print(f"| {label} | {coverage:.2f} | {achieved:.3f} | {kept:.1f} | {needed} | {coverable}/{total} |")
    if args.plot:
        reliability_plot(curves, args.plot)
        print(f"wrote {args.plot}")


def reliability_plot(curves, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 4), squeeze=False)
    for axis, (label, mapped, calibrated, labels) in zip(axes[0], curves):
        y = np.asarray(labels, dtype=float)
        for name, values, style in (("mapped by kind", mapped, "o--"), ("calibrated", calibrated, "s-")):
            p = np.asarray(values, dtype=float)
            bins = np.minimum((p * 15).astype(int), 14)
            centres = [p[bins == b].mean() for b in range(15) if (bins == b).any()]
            rates = [y[bins == b].mean() for b in range(15) if (bins == b).any()]
            axis.plot(centres, rates, style, label=name, markersize=4)
        axis.plot([0, 1], [0, 1], ":", color="grey")
        axis.set_title(label, fontsize=8)
        axis.set_xlabel("predicted P(relevant)")
        axis.set_ylabel("observed share relevant")
        axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()

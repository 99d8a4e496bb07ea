"""Choose fast-forward's alpha on TREC DL 2021 (BM25 top-100; never DL 2019) by 5-fold cross-validation
over queries: per fold, the alpha with the best mean nDCG@10 on the other folds is scored on the fold.
Prints the grid, the cross-validated nDCG@10 against BM25 and pure cosine, and the alpha chosen on all
queries (fast-forward's default).

    python benchmarks/fast_forward_alpha.py [--model minilm-embed] [--dataset dl21]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bm25_requests  # noqa: E402

GRID = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--dataset", default="dl21")
    args = parser.parse_args()
    import ir_measures
    from sklearn.model_selection import KFold

    from rankwise import Reranker
    from rankwise.pipelines.evaluate import run_from_rankings
    from rankwise.types import Ranking

    _, qrels, requests, bm25 = bm25_requests(args.dataset, None)
    cosine = Reranker.load(args.model, method="embedding").rerank_batch(requests)
    by_query = [{r.docid: r.score for r in ranking.results} for ranking in cosine]
    per_alpha = {}
    for alpha in GRID:
        rankings = [Ranking.from_scores(req, [alpha * c.score + (1 - alpha) * dense[c.docid] for c in req.candidates])
                    for req, dense in zip(requests, by_query)]
        per_query = {m.query_id: m.value for m in ir_measures.iter_calc([ir_measures.nDCG @ 10], qrels,
                                                                        run_from_rankings(rankings))}
        per_alpha[alpha] = np.array([per_query.get(r.query.qid, 0.0) for r in requests])
    judged = np.array([r.query.qid in qrels for r in requests])
    folds, held_out = KFold(5, shuffle=True, random_state=0), []
    for train, test in folds.split(np.arange(len(requests))):
        train, test = train[judged[train]], test[judged[test]]
        best = max(GRID, key=lambda a: per_alpha[a][train].mean())
        held_out += per_alpha[best][test].tolist()
    chosen = max(GRID, key=lambda a: per_alpha[a][judged].mean())
    table = Table(title=f"fast-forward alpha on {args.dataset} (BM25 top-100, {judged.sum()} judged queries)")
    table.add_column("alpha")
    table.add_column("nDCG@10", justify="right")
    for alpha in GRID:
        table.add_row(str(alpha), f"{per_alpha[alpha][judged].mean():.4f}")
    Console().print(table)
    print(f"BM25 {bm25:.4f}; cosine alone {per_alpha[0.0][judged].mean():.4f}; 5-fold CV {np.mean(held_out):.4f}; "
          f"alpha chosen on all queries: {chosen}")


if __name__ == "__main__":
    main()

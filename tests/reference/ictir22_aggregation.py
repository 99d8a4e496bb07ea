"""Reference outputs of webis-de/ICTIR-22 (Gienapp et al., "Sparse Pairwise Re-ranking with Pre-trained
Transformers", ICTIR 2022): its deterministic samplers and its aggregators, on one seeded set of pairwise
probabilities, written to ictir22_aggregation.json for tests/test_sparse_pairwise.py.

    python tests/reference/ictir22_aggregation.py /work/.mirror/webis-de+ICTIR-22/repo   # `fetch` gives it

It runs the repository's own `src/sampling` and `src/aggregation` (pandas, numpy, networkx) from a checkout
of its default branch (read with `git show`, so a bare mirror works), commit recorded in the output."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

N = 9


def checkout(mirror: str) -> tuple[Path, str]:
    folder = Path(tempfile.mkdtemp())
    commit = subprocess.run(["git", "-C", mirror, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    for path in ("src/__init__.py", "src/sampling/__init__.py", "src/sampling/samplers.py"):
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            subprocess.run(["git", "-C", mirror, "show", f"HEAD:{path}"], capture_output=True, text=True).stdout
        )
    for name in ("base", "additive", "greedy", "kwiksort", "pagerank"):
        target = folder / "src" / "aggregation" / f"{name}.py"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            subprocess.run(
                ["git", "-C", mirror, "show", f"HEAD:src/aggregation/{name}.py"], capture_output=True, text=True
            ).stdout
        )
    (folder / "src" / "aggregation" / "__init__.py").write_text("")
    return folder, commit


def main() -> None:
    folder, commit = checkout(sys.argv[1])
    sys.path.insert(0, str(folder))
    from src.aggregation.additive import AdditiveAggregator
    from src.aggregation.greedy import GreedyAggregator
    from src.aggregation.kwiksort import KwikSortAggregator
    from src.aggregation.pagerank import PageRankAggregator
    from src.sampling.samplers import PairwiseGroupedSampler, PairwiseWindowedSampler

    # First-stage scores: item 0 best. The samplers sort ids by ascending score, as the repository does.
    first_stage = pd.DataFrame({"docno": list(range(N)), "score": [float(N - i) for i in range(N)]})
    samples = {
        "windowed-2": PairwiseWindowedSampler(window_size=2, cyclical=True)(first_stage),
        "grouped-3": PairwiseGroupedSampler(k=3, prior=True)(first_stage),
        "grouped-4": PairwiseGroupedSampler(k=4, prior=True)(first_stage),
    }
    rng = np.random.default_rng(7)
    merit = rng.normal(size=N)
    # P(a beats b) for every ordered pair, consistent in both orders (as rankwise's both-order judges give)
    probability = {
        (a, b): float(1 / (1 + np.exp(-(merit[a] - merit[b] + rng.normal(scale=0.8)))))
        for a in range(N)
        for b in range(a + 1, N)
    }
    probability |= {(b, a): 1 - p for (a, b), p in list(probability.items())}
    pairs = sorted({(int(a), int(b)) for a, b in samples["windowed-2"].values.tolist()})
    pairs = sorted(set(pairs) | {(b, a) for a, b in pairs})
    frame = pd.DataFrame([(a, b, probability[(a, b)]) for a, b in pairs], columns=["id_a", "id_b", "score"])

    def scores(aggregator) -> dict[str, float]:
        result = aggregator(frame.copy())
        return {str(int(d)): float(s) for d, s in result.values.tolist()}

    report = {
        "repository": "webis-de/ICTIR-22",
        "commit": commit,
        "n": N,
        "samples": {name: sorted([int(a), int(b)] for a, b in df.values.tolist()) for name, df in samples.items()},
        "probability": [[a, b, p] for (a, b), p in sorted(probability.items())],
        "pairs": pairs,
        "additive": scores(AdditiveAggregator(log_scores=False, logit_scores=False)),
        "greedy": scores(GreedyAggregator(log_scores=False)),
        "kwiksort_rowsum": scores(KwikSortAggregator(pivot_selection_function="rowsum", log_scores=False)),
        "pagerank": scores(PageRankAggregator(log_scores=False)),
    }
    out = Path(__file__).with_name("ictir22_aggregation.json")
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()

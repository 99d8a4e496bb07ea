"""Reference figures from the Fast-Forward authors' package (fast-forward-indexes 0.8.0) for
tests/test_forward_index.py: interpolation and early stopping over seeded vectors and first-stage scores.

fast-forward-indexes pins numpy<2 and transformers<5, so it runs in its own venv:
    python3 -m venv /tmp/ffi-venv
    /tmp/ffi-venv/bin/pip install torch==2.13.0
    /tmp/ffi-venv/bin/pip install fast-forward-indexes==0.8.0 "numpy<2" "transformers<5"
    /tmp/ffi-venv/bin/python tests/reference/fast_forward_indexes.py   # writes fast_forward_indexes.json
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from fast_forward.encoder.base import Encoder
from fast_forward.index.memory import InMemoryIndex
from fast_forward.ranking import Ranking

OUT = Path(__file__).with_suffix(".json")
QUERIES, CANDIDATES, DIM = 4, 40, 16
ALPHA, CUTOFF, STEP = 0.2, 5, 5


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def main() -> None:
    rng = np.random.default_rng(27)
    passages = unit(rng.normal(size=(QUERIES * CANDIDATES, DIM))).astype(np.float32)
    queries = unit(rng.normal(size=(QUERIES, DIM))).astype(np.float32)
    # First-stage scores on BM25's scale, descending within each query, with distinct values.
    sparse = np.sort(rng.uniform(2.0, 6.0, size=(QUERIES, CANDIDATES)), axis=1)[:, ::-1].round(3)
    qids = [f"q{i}" for i in range(QUERIES)]
    texts = {qid: f"query {qid}" for qid in qids}
    docids = [[f"{qid}-d{j}" for j in range(CANDIDATES)] for qid in qids]

    class Fixed(Encoder):
        def _encode(self, batch):
            return np.stack([queries[qids.index(text.split()[-1])] for text in batch])

    index = InMemoryIndex(query_encoder=Fixed())
    index.add(passages, doc_ids=[d for row in docids for d in row])
    rows = [
        {"q_id": qid, "id": docids[q][j], "score": float(sparse[q, j])}
        for q, qid in enumerate(qids)
        for j in range(CANDIDATES)
    ]
    first = Ranking(pd.DataFrame(rows), queries=texts, dtype=np.dtype(np.float64))

    def scores(ranking: Ranking) -> dict[str, dict[str, float]]:
        frame = ranking._df
        return {qid: {r.id: float(r.score) for r in frame[frame.q_id == qid].itertuples()} for qid in qids}

    dense = index(first)
    full = first.interpolate(dense, ALPHA)
    depths = list(range(STEP, CANDIDATES + STEP, STEP))
    stopped_dense = index(first, early_stopping=CUTOFF, early_stopping_alpha=ALPHA, early_stopping_depths=depths)
    stopped = first.interpolate(stopped_dense, ALPHA)
    OUT.write_text(
        json.dumps(
            {
                "library": f"fast-forward-indexes {version('fast-forward-indexes')}",
                "alpha": ALPHA,
                "early_stopping": CUTOFF,
                "depths": depths,
                "queries": queries.tolist(),
                "passages": passages.tolist(),
                "sparse": sparse.tolist(),
                "docids": docids,
                "interpolated": scores(full),
                # Only the candidates the index scored under early stopping (the rest are missing from its output).
                "early_stopping_dense": scores(stopped_dense),
                "early_stopping_interpolated": scores(stopped),
            }
        )
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

"""Runs inside fast-forward-indexes 0.8's own venv (it pins numpy<2 and transformers<5), called by
index_time.py: the authors' InMemoryIndex over the same passage vectors, with the same MiniLM query encoder
(mean pooling, unit length, as sentence-transformers computes it), reranks the same BM25 candidates by
`Ranking.interpolate`, with and without its early stopping, and writes the scores and its wall time.

    /tmp/ffi-venv/bin/python benchmarks/_fast_forward_reference.py IN.npz IN.json OUT.json"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
import torch
from fast_forward.encoder.base import Encoder
from fast_forward.index.memory import InMemoryIndex
from fast_forward.ranking import Ranking
from transformers import AutoModel, AutoTokenizer


class MeanPooled(Encoder):
    def __init__(self, path: str, max_length: int):
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.max_length = max_length

    def _encode(self, texts):
        with torch.inference_mode():
            batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                   return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def main() -> None:
    vectors_path, spec_path, out_path = sys.argv[1:4]
    spec = json.loads(open(spec_path).read())
    stored = np.load(vectors_path)
    torch.set_num_threads(spec["threads"])
    index = InMemoryIndex(query_encoder=MeanPooled(spec["model_path"], spec["max_length"]))
    index.add(stored["vectors"], doc_ids=[str(d) for d in stored["docids"]])
    frame = pd.DataFrame([{"q_id": r["qid"], "id": d, "score": s} for r in spec["requests"]
                          for d, s in zip(r["docids"], r["scores"])])
    first = Ranking(frame, queries={r["qid"]: r["query"] for r in spec["requests"]}, dtype=np.dtype(np.float64))
    index(Ranking(frame[frame.q_id == spec["requests"][0]["qid"]],
                  queries={spec["requests"][0]["qid"]: spec["requests"][0]["query"]}))  # warm-up
    report = {}
    for name, options in (("full", {}), ("early_stopping", {
            "early_stopping": spec["early_stop_k"], "early_stopping_alpha": spec["alpha"],
            "early_stopping_depths": list(range(spec["early_stop_step"], 101 + spec["early_stop_step"],
                                                spec["early_stop_step"]))})):
        start = time.perf_counter()
        dense = index(first, **options)
        fused = first.interpolate(dense, spec["alpha"])
        seconds = time.perf_counter() - start
        scores: dict[str, dict[str, float]] = {}
        for row in fused._df.itertuples():
            scores.setdefault(row.q_id, {})[row.id] = float(row.score)
        report[name] = {"seconds": seconds, "scores": scores, "scored": int(len(dense._df))}
    open(out_path, "w").write(json.dumps(report))


if __name__ == "__main__":
    main()

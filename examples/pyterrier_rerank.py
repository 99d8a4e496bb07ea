"""Rerank a first stage's run inside a PyTerrier pipeline and evaluate it with pt.Experiment (offline,
MiniLM; the first stage is a precomputed BM25 run, so no Java index is needed)."""

import pandas as pd
import pyterrier as pt

from rankwise.integrations.pyterrier import RankwiseReranker

PASSAGES = {
    "d0": "Sourdough needs feeding with flour and water every day.",
    "d1": "An adult flea usually lives two to three months, sometimes more than a year.",
    "d2": "The flea market on the harbour sells antiques and records.",
    "d3": "Flea pupae can stay dormant in cocoons for up to a year.",
}
topics = pd.DataFrame([{"qid": "q1", "query": "how long do fleas live"}])
qrels = pd.DataFrame([{"qid": "q1", "docno": "d1", "label": 3}, {"qid": "q1", "docno": "d3", "label": 1}])
bm25_run = pd.DataFrame([{"qid": "q1", "query": "how long do fleas live", "docno": d, "text": t, "score": 4.0 - i}
                         for i, (d, t) in enumerate(sorted(PASSAGES.items(), key=lambda kv: kv[0] != "d2"))])
first_stage = pt.Transformer.from_df(bm25_run)
pipeline = first_stage >> RankwiseReranker("minilm-embed")
print(pt.Experiment([first_stage, pipeline], topics, qrels, [pt.measures.nDCG @ 10], names=["BM25 run", "+ rankwise"],
                    verbose=False).to_string(index=False))

"""PyTerrier: `RankwiseReranker`, a transformer that reranks a `qid, query, docno, text` frame and returns it
with `score` and `rank`, composable after any first stage (`bm25 >> RankwiseReranker(...)`) and usable in
`pt.Experiment`. Queries are reranked together (`rerank_batch`), so methods batch across them.

    from rankwise.integrations.pyterrier import RankwiseReranker
    pipeline = first_stage >> pt.text.get_text(dataset, "text") >> RankwiseReranker("minilm-embed")
    pt.Experiment([first_stage, pipeline], topics, qrels, ["nDCG@10"])

`score` is the method's own score (`score_kind` names it in the frame's attrs); documents keep their other
columns. With a calibration (`options={"calibration": FILE}`) a `probability` column is added,
`min_probability` keeps only the rows at least that likely to be relevant (possibly none), and `coverage` the
adaptive prefix per query."""

from __future__ import annotations

from typing import Any, Optional

import pandas as pd
import pyterrier as pt

from rankwise.errors import InputError
from rankwise.integrations._shared import LazyReranker
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Candidate, Query, Request

REQUIRED_COLUMNS = ("qid", "query", "docno", "text")


class RankwiseReranker(LazyReranker, pt.Transformer):
    def __init__(
        self,
        model: str = "minilm-embed",
        method: Optional[str] = None,
        options: Optional[dict[str, Any]] = None,
        queries_per_batch: int = 16,
        min_probability: Optional[float] = None,
        coverage: Optional[float] = None,
        instruction: Optional[str] = None,
    ):
        self.model, self.method, self.options = model, method, dict(options or {})
        self.queries_per_batch = queries_per_batch
        # with a calibration (options={"calibration": FILE}): a probability floor, an adaptive prefix
        self.min_probability, self.coverage = min_probability, coverage
        self.instruction = instruction  # for prompts with an instruction slot (Qwen3-Reranker's)
        self._reranker: Optional[BaseReranker] = None

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in REQUIRED_COLUMNS if c not in inp.columns]
        if missing:
            raise InputError(
                f"RankwiseReranker needs columns {', '.join(REQUIRED_COLUMNS)}; missing "
                f"{', '.join(missing)} (add the text with pt.text.get_text)"
            )
        if inp.empty:
            return inp.assign(score=pd.Series(dtype=float), rank=pd.Series(dtype=int))
        groups = [(qid, frame) for qid, frame in inp.groupby("qid", sort=False)]
        scores: dict[tuple[str, str], float] = {}
        probabilities: dict[tuple[str, str], float | None] = {}
        for start in range(0, len(groups), self.queries_per_batch):
            batch = groups[start : start + self.queries_per_batch]
            requests = [
                Request(
                    Query(str(qid), str(frame["query"].iloc[0]), self.instruction),
                    [Candidate(str(d), str(t)) for d, t in zip(frame["docno"], frame["text"])],
                )
                for qid, frame in batch
            ]
            rankings = self.reranker.rerank_batch(
                requests,
                min_probability=self.min_probability,
                top_n="adaptive" if self.coverage is not None else None,
                coverage=self.coverage,
            )
            for request, ranking in zip(requests, rankings):
                scores.update({(request.query.qid, r.docid): r.score for r in ranking.results})
                probabilities.update({(request.query.qid, r.docid): r.probability for r in ranking.results})
        out = inp.drop(columns=[c for c in ("score", "rank", "probability") if c in inp.columns]).copy()
        keys = list(zip(out["qid"].astype(str), out["docno"].astype(str)))
        out = out[[key in scores for key in keys]].copy()  # the probability floor and adaptive prefix cut rows
        keys = [key for key in keys if key in scores]
        out["score"] = [scores[key] for key in keys]
        if self.reranker.calibration is not None:
            out["probability"] = [probabilities[key] for key in keys]
        out = pt.model.add_ranks(out)
        out.attrs["score_kind"] = self.reranker.score_kind.value
        return out.sort_values(["qid", "rank"], kind="stable").reset_index(drop=True)

    def __repr__(self) -> str:
        return f"RankwiseReranker({self.model!r}, method={self.method!r})"

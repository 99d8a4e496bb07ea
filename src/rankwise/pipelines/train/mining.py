"""Hard-negative mining with a false-negative guard, over any rankwise reranker.

For each query, the candidates are its pooled first-stage passages (a collection folder's, or a lists
file's) or, with a corpus, bm25s's top `depth` over it; the miner reranks them with `reranker` and takes
the best-scored passages that are not judged relevant as hard negatives, as sentence-transformers'
`mine_hard_negatives` does with an embedding model. The guard ("Hard Negatives or False Negatives:
Correcting Pooling Bias in Training Neural Ranking Models", Cai et al., CIKM 2022; RocketQA's denoising, Qu
et al., 2021, is the same idea): a candidate the reranker scores above `positive - margin` for the query's
worst-scored positive is probably an unjudged relevant passage and is dropped, counted, rather than
taught as a negative. With `margin` None the guard is off."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankwise.errors import InputError
from rankwise.pipelines.train.data import QueryGroup
from rankwise.types import Candidate, Query, Request


@dataclass
class MiningReport:
    queries: int = 0
    positives: int = 0
    negatives: int = 0
    dropped_as_false_negatives: int = 0
    queries_without_negatives: int = 0
    dropped_examples: list[dict[str, Any]] = field(default_factory=list)  # the first few, to inspect


def mine_hard_negatives(
    groups: Sequence[QueryGroup],
    reranker: Any,
    negatives: int = 8,
    relevance_level: int = 2,
    margin: float | None = 0.0,
    skip_top: int = 0,
    candidates: dict[str, list[Candidate]] | None = None,
    report: MiningReport | None = None,
) -> Iterator[dict[str, Any]]:
    """Triples rows `{qid, query, positive, negatives}` (one per relevant passage), the negatives best first.
    `candidates` (qid -> retrieved passages) replaces the groups' own pools when given; `skip_top` leaves
    out the reranker's first few non-relevant passages (another guard, as `range_min`)."""
    report = report if report is not None else MiningReport()
    if negatives < 1:
        raise InputError(f"negatives must be >= 1, got {negatives}")
    for group in groups:
        positives = [d for d in group.docs if d.grade is not None and d.grade >= relevance_level]
        if not positives:
            continue
        relevant = {d.docid for d in positives} | {d.text for d in positives}
        pool = (
            candidates.get(group.qid, [])
            if candidates is not None
            else [Candidate(d.docid, d.text) for d in group.docs]
        )
        others = [c for c in pool if c.docid not in relevant and c.text not in relevant]
        if not others:
            report.queries_without_negatives += 1
            continue
        query = Query(group.qid, group.query)
        shown = [Candidate(d.docid, d.text) for d in positives] + others
        ranking = reranker.rerank_batch([Request(query, shown)])[0]
        score = {r.docid: r.score for r in ranking.results}
        ranked = sorted(others, key=lambda c: -score[c.docid])[skip_top:]
        report.queries += 1
        bar = min(score[d.docid] for d in positives)
        kept = []
        for candidate in ranked:
            # Judged-low passages are guarded too: a grade-1 passage the teacher ranks over a positive teaches
            # little, and triples files call every unjudged passage a 0.
            if margin is not None and score[candidate.docid] > bar - margin:
                report.dropped_as_false_negatives += 1
                if len(report.dropped_examples) < 20:
                    report.dropped_examples.append(
                        {
                            "qid": group.qid,
                            "docid": candidate.docid,
                            "score": score[candidate.docid],
                            "positive_bar": bar,
                        }
                    )
                continue
            kept.append(candidate)
            if len(kept) == negatives:
                break
        if not kept:
            report.queries_without_negatives += 1
            continue
        for positive in positives:
            report.positives += 1
            report.negatives += len(kept)
            yield {
                "qid": group.qid,
                "query": group.query,
                "positive": {"id": positive.docid, "text": positive.text},
                "negatives": [{"id": c.docid, "text": c.text} for c in kept],
            }


def retrieved_candidates(
    groups: Sequence[QueryGroup], corpus: Sequence[Candidate], depth: int
) -> dict[str, list[Candidate]]:
    """bm25s's top `depth` of `corpus` for each group's query."""
    from rankwise.pipelines.retrieve import BM25Index

    index = BM25Index.build(corpus)
    found = index.search([Query(g.qid, g.query) for g in groups], k=depth)
    return {request.query.qid: list(request.candidates) for request in found}

"""Teacher labels: a reranker's scores over candidate sets, written one query per JSONL line so that a
killed run resumes where it stopped.

Each finished query is appended and flushed as one line (`ResumableJsonl`), so the finished file equals
an uninterrupted run's, byte for byte, for a deterministic reranker.

An expensive teacher (an LLM) is worth paying only where a ranking is decided: with a `head` (a cheaper
reranker and a count k), each query's candidates are first cut to the k that reranker ranks best, in its
order, and only those are labelled. The line then says which head it is."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rankwise.errors import InputError
from rankwise.io.resumable import ResumableJsonl
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.train.data import QueryGroup
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Request


def label_with_teacher(
    reranker: BaseReranker,
    requests: Sequence[Request],
    path: str | Path,
    queries_per_batch: int = 1,
    on_progress: OnProgress | None = None,
    head: tuple[BaseReranker, int] | None = None,
) -> int:
    """Score every candidate of every request into `path` (`{"qid", "teacher", "scores": {docid: score}}` per
    line, input order), or with `head` only each request's head (the line adds `"head"`); returns how many
    queries this call labelled."""
    if head is not None and head[1] < 1:
        raise InputError(f"the head must hold at least one candidate, got {head[1]}")
    out = ResumableJsonl(path, "teacher-label")
    done = out.remaining([r.query.qid for r in requests])
    if done and on_progress:
        on_progress(done)
    todo = list(requests[done:])
    teacher = reranker.describe()
    head_record = {**head[0].describe(), "k": head[1]} if head else None
    for offset in range(0, len(todo), queries_per_batch):
        group = todo[offset : offset + queries_per_batch]
        if head is not None:
            group = cut_to_heads(group, *head)
        lines = []
        for request, ranking in zip(group, reranker.rerank_batch(group)):
            scores = {r.docid: r.score for r in ranking.results}
            ordered = {c.docid: scores[c.docid] for c in request.candidates}
            line = {"qid": request.query.qid, "teacher": teacher, "scores": ordered}
            lines.append(line if head_record is None else {**line, "head": head_record})
        out.append(lines)
        if on_progress:
            on_progress(len(group))
    return len(todo)


def cut_to_heads(requests: Sequence[Request], selector: BaseReranker, k: int) -> list[Request]:
    """Each request with only the `k` candidates `selector` ranks best, in `selector`'s order."""
    heads = []
    for request, ranking in zip(requests, selector.rerank_batch(list(requests))):
        by_id = {c.docid: c for c in request.candidates}
        heads.append(Request(request.query, [by_id[r.docid] for r in ranking.results[:k]]))
    return heads


def read_teacher_labels(path: str | Path) -> dict[str, dict[str, float]]:
    """qid -> {docid: teacher score}."""
    labels = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
            labels[str(entry["qid"])] = {str(k): float(v) for k, v in entry["scores"].items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            raise InputError("not a teacher-label line", source=str(path), line=number) from None
    return labels


def attach_teacher_labels(
    groups: Sequence[QueryGroup], labels: dict[str, dict[str, float]], key: str, source: str = "teacher labels"
) -> tuple[int, int]:
    """Put each labelled passage's score into its training group under `key` (what a trainer's `teacher`
    option names). Returns (passages labelled, labels left out): labels of queries or passages the groups do
    not hold (held-out content is dropped from the groups) are left out and counted, and a file that matches
    no training query at all is an error."""
    attached, left_out, matched = 0, 0, set()
    for group in groups:
        scores = labels.get(group.qid)
        if scores is None:
            continue
        matched.add(group.qid)
        pool = {doc.docid: doc for doc in group.docs}
        for docid, score in scores.items():
            if docid in pool:
                pool[docid].scores[key] = score
                attached += 1
            else:
                left_out += 1
    if labels and not matched:
        raise InputError(f"none of its {len(labels)} queries is among the training queries", source=source)
    left_out += sum(len(scores) for qid, scores in labels.items() if qid not in matched)
    return attached, left_out

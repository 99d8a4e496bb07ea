"""Teacher labels: a reranker's scores over candidate sets, written one query per JSONL line so that a
killed run resumes where it stopped.

Each finished query is appended and flushed as one line (`ResumableJsonl`), so the finished file equals
an uninterrupted run's, byte for byte, for a deterministic reranker."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from rankwise.errors import InputError
from rankwise.pipelines.train.resumable import ResumableJsonl
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Request


def label_with_teacher(
    reranker: BaseReranker,
    requests: Sequence[Request],
    path: str | Path,
    queries_per_batch: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Score every candidate of every request into `path` (`{"qid", "teacher", "scores": {docid: score}}` per
    line, input order); returns how many queries this call labelled."""
    out = ResumableJsonl(path, "teacher-label")
    done = out.remaining([r.query.qid for r in requests])
    if done and on_progress:
        on_progress(done)
    todo = list(requests[done:])
    teacher = reranker.describe()
    for offset in range(0, len(todo), queries_per_batch):
        group = todo[offset:offset + queries_per_batch]
        lines = []
        for request, ranking in zip(group, reranker.rerank_batch(group)):
            scores = {r.docid: r.score for r in ranking.results}
            ordered = {c.docid: scores[c.docid] for c in request.candidates}
            lines.append({"qid": request.query.qid, "teacher": teacher, "scores": ordered})
        out.append(lines)
        if on_progress:
            on_progress(len(group))
    return len(todo)


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

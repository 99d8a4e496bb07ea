"""Teacher labels: a reranker's scores over candidate sets, written one query per JSONL line so that a
killed run resumes where it stopped.

Each finished query is appended and flushed as one line; on resume the file is read back, a torn last
line (the process died mid-write) is cut off, finished queries are skipped, and the rest are labelled in
input order. So the finished file equals an uninterrupted run's, byte for byte, for a deterministic
reranker."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from rankwise.errors import InputError
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Request


def _finished_qids(path: Path) -> list[str]:
    """Query ids of the complete lines, cutting off a torn tail so appends continue a clean file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with open(path, "r+b") as f:
            f.truncate(keep)
    qids = []
    for number, line in enumerate(data[:keep].splitlines(), start=1):
        try:
            qids.append(str(json.loads(line)["qid"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError("not a teacher-label line; delete the file to start over",
                             source=str(path), line=number) from None
    return qids


def label_with_teacher(
    reranker: BaseReranker,
    requests: Sequence[Request],
    path: str | Path,
    queries_per_batch: int = 1,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Score every candidate of every request into `path` (`{"qid", "teacher", "scores": {docid: score}}` per
    line, input order); returns how many queries this call labelled."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _finished_qids(path)
    expected = [r.query.qid for r in requests]
    if done != expected[: len(done)]:
        raise InputError("the existing labels are not a prefix of these requests (different input or order); "
                         "delete the file to start over", source=str(path))
    if done and on_progress:
        on_progress(len(done))
    todo = list(requests[len(done):])
    teacher = reranker.describe()
    with open(path, "a", encoding="utf-8") as f:
        for offset in range(0, len(todo), queries_per_batch):
            group = todo[offset:offset + queries_per_batch]
            for request, ranking in zip(group, reranker.rerank_batch(group)):
                scores = {r.docid: r.score for r in ranking.results}
                ordered = {c.docid: scores[c.docid] for c in request.candidates}
                f.write(json.dumps({"qid": request.query.qid, "teacher": teacher, "scores": ordered}) + "\n")
            f.flush()
            os.fsync(f.fileno())
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

"""TREC formats: runs (`qid Q0 docid rank score tag`), qrels (`qid iter docid rel`) and topics (`qid<TAB>text`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from rankwise.errors import InputError
from rankwise.io.lines import iter_lines
from rankwise.types import Query, Ranking

Run = dict[str, dict[str, float]]
Qrels = dict[str, dict[str, int]]


def _rows(path: str | Path, layout: str) -> Iterator[tuple[int, list[str]]]:
    """Whitespace-separated rows with exactly the fields `layout` names."""
    count = len(layout.split())
    for number, line in iter_lines(path):
        fields = line.split()
        if len(fields) != count:
            raise InputError(f"expected {count} fields '{layout}', found {len(fields)}", source=str(path), line=number)
        yield number, fields


def read_run(path: str | Path) -> Run:
    run: Run = {}
    for number, (qid, _, docid, rank, score, _) in _rows(path, "qid Q0 docid rank score tag"):
        try:
            int(rank)
            value = float(score)
        except ValueError:
            raise InputError(
                f"rank {rank!r} or score {score!r} is not a number", source=str(path), line=number
            ) from None
        per_query = run.setdefault(qid, {})
        if docid in per_query:
            raise InputError(f"duplicate docid {docid!r} for query {qid!r}", source=str(path), line=number)
        per_query[docid] = value
    return run


def run_text(rankings: Iterable[Ranking], tag: str = "rankwise") -> str:
    """Rankings as TREC run lines."""
    if any(c.isspace() for c in tag) or not tag:
        raise InputError(f"run tag {tag!r} must be one word")
    return "".join(
        f"{ranking.query.qid} Q0 {result.docid} {result.rank} {result.score:.6f} {tag}\n"
        for ranking in rankings
        for result in ranking.results
    )


def write_run(rankings: Iterable[Ranking], path: str | Path, tag: str = "rankwise") -> None:
    text = run_text(rankings, tag)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def read_qrels(path: str | Path) -> Qrels:
    qrels: Qrels = {}
    for number, (qid, _, docid, relevance) in _rows(path, "qid iteration docid relevance"):
        try:
            grade = int(relevance)
        except ValueError:
            raise InputError(f"relevance {relevance!r} is not an integer", source=str(path), line=number) from None
        qrels.setdefault(qid, {})[docid] = grade
    return qrels


def read_topics(path: str | Path) -> list[Query]:
    topics: list[Query] = []
    seen: set[str] = set()
    for number, line in iter_lines(path):
        qid, sep, text = line.partition("\t")
        if not sep:
            raise InputError("expected 'qid<TAB>query'", source=str(path), line=number)
        qid, text = qid.strip(), text.strip()
        if not text:
            raise InputError(f"query {qid!r} is empty", source=str(path), line=number)
        if qid in seen:
            raise InputError(f"duplicate query id {qid!r}", source=str(path), line=number)
        seen.add(qid)
        topics.append(Query(qid=qid, text=text))
    return topics

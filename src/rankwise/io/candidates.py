"""rank_llm-style candidate files: `[{"query": str, "hits": [{"qid", "docid", "rank", "score", "content"}]}]`.

A `.jsonl` file holds one such entry per line: `iter_candidates` streams it one query at a time (memory
bounded by one entry) and reports errors by line. A `.json` file is one JSON list, parsed whole."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io.lines import iter_jsonl, load_json
from rankwise.types import Candidate, Query, Ranking, Request


def read_candidates(path: str | Path) -> list[Request]:
    """Read a candidate file into validated requests, one per query, in file order."""
    return list(iter_candidates(path))


def iter_entries(path: str | Path) -> Iterator[tuple[int | None, Any]]:
    """(line number or None, raw entry) in file order, unvalidated; a `.jsonl` file is read one line at a
    time, so a batch job can validate each entry alone."""
    source = str(path)
    if source.endswith(".jsonl"):
        yield from iter_jsonl(path)
        return
    data = load_json(path)
    if not isinstance(data, list):
        raise InputError(f"expected a JSON list of {{query, hits}} entries, got {type(data).__name__}", source=source)
    yield from ((None, entry) for entry in data)


def iter_validated(path: str | Path) -> Iterator[tuple[int, int | None, Any, Request | InputError]]:
    """(index, line, raw entry, its request or the InputError that names its problem) in file order: the
    same validation as `iter_candidates`, a query id seen before included, without stopping at a bad entry
    (a batch job sets bad queries aside and goes on)."""
    source = str(path)
    seen_qids: dict[str, int] = {}
    for index, (line, entry) in enumerate(iter_entries(path)):
        where = f"entry {index}" if line is None else "entry on this line"
        try:
            request = _parse_entry(entry, where, source, line, index)
            if request.query.qid in seen_qids:
                raise InputError(
                    f"{where}: query id {request.query.qid!r} already appeared in entry {seen_qids[request.query.qid]}",
                    source=source,
                    line=line,
                )
        except InputError as e:
            yield index, line, entry, e
            continue
        seen_qids[request.query.qid] = index
        yield index, line, entry, request


def iter_candidates(path: str | Path) -> Iterator[Request]:
    """Validated requests in file order; a `.jsonl` file is read one line at a time."""
    for _, _, _, outcome in iter_validated(path):
        if isinstance(outcome, InputError):
            raise outcome
        yield outcome


def _parse_entry(entry: Any, where: str, source: str, line: int | None, index: int) -> Request:
    def fail(problem: str) -> InputError:
        return InputError(f"{where}: {problem}", source=source, line=line)

    if not isinstance(entry, dict):
        raise fail(f"expected an object with 'query' and 'hits', got {type(entry).__name__}")
    query_text = entry.get("query")
    if isinstance(query_text, dict):  # rank_llm's newer shape: {"query": {"text", "qid"}, "candidates": [...]}
        qid_hint, query_text = query_text.get("qid"), query_text.get("text")
    else:
        qid_hint = entry.get("qid")
    hits = entry.get("hits", entry.get("candidates"))
    if not isinstance(query_text, str):
        raise fail("missing 'query' text")
    if not query_text.strip():
        raise fail("empty query")
    if not isinstance(hits, list):
        raise fail("missing 'hits' list")
    candidates = []
    qids = set()
    for position, hit in enumerate(hits):
        if not isinstance(hit, dict):
            raise fail(f"hit {position} is not an object")
        docid = hit.get("docid")
        text = hit.get("content", hit.get("text"))
        if docid is None or (isinstance(docid, str) and not docid.strip()):
            raise fail(f"hit {position} has no docid")
        if not isinstance(text, str):
            doc = hit.get("doc")
            text = _text_from_doc(doc) if isinstance(doc, dict) else None
        if not isinstance(text, str):
            raise fail(f"hit {position} (docid {docid}) has no 'content' text")
        if "qid" in hit:
            qids.add(str(hit["qid"]))
        score = hit.get("score")
        if score is not None and not isinstance(score, (int, float)):
            raise fail(f"hit {position} (docid {docid}) has a non-numeric score {score!r}")
        candidates.append(Candidate(docid=str(docid), text=text, score=float(score) if score is not None else None))
    if qid_hint is not None:
        qids.add(str(qid_hint))
    if len(qids) > 1:
        raise fail(f"hits carry different query ids {sorted(qids)}")
    qid = qids.pop() if qids else str(index)
    feedback = entry.get("feedback")
    if feedback is not None and not (isinstance(feedback, list) and all(isinstance(d, (str, int)) for d in feedback)):
        raise fail("'feedback' must be a list of docids (the candidates marked relevant)")
    try:
        return Request.build(Query(qid=qid, text=query_text), candidates, feedback=feedback)
    except InputError as e:
        raise fail(e.problem) from None


def _text_from_doc(doc: dict) -> str | None:
    parts = [doc.get(k) for k in ("title", "segment", "text", "contents") if isinstance(doc.get(k), str)]
    return "\n".join(parts) if parts else None


def rankings_to_entries(rankings: Iterable[Ranking]) -> list[dict[str, Any]]:
    return [
        {
            "query": ranking.query.text,
            "hits": [
                {"qid": ranking.query.qid, "docid": r.docid, "rank": r.rank, "score": r.score, "content": r.text}
                for r in ranking.results
            ],
        }
        for ranking in rankings
    ]


def write_candidates(rankings: Iterable[Ranking], path: str | Path) -> None:
    """Write rankings in the rank_llm JSON shape (JSON lines when the name ends in .jsonl)."""
    entries = rankings_to_entries(rankings)
    with open(path, "w", encoding="utf-8") as f:
        if str(path).endswith(".jsonl"):
            for entry in entries:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        else:
            json.dump(entries, f, ensure_ascii=False)

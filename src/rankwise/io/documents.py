"""JSONL document collections: `{"docid", "text"}`, `{"id", "contents"}` or `{"_id", "title", "text"}`."""

from __future__ import annotations

from pathlib import Path

from rankwise.errors import InputError
from rankwise.io.lines import iter_jsonl
from rankwise.types import Candidate

ID_FIELDS = ("docid", "id", "_id")
TEXT_FIELDS = ("text", "contents")


def read_documents(path: str | Path) -> list[Candidate]:
    """Read documents in file order; a title, when present, is kept in metadata and prefixed to the text."""
    documents: list[Candidate] = []
    seen: dict[str, int] = {}
    for number, record in iter_jsonl(path):

        def fail(problem: str, number: int = number) -> InputError:
            return InputError(problem, source=str(path), line=number)

        if not isinstance(record, dict):
            raise fail(f"expected a JSON object, got {type(record).__name__}")
        docid = next((record[k] for k in ID_FIELDS if k in record), None)
        if docid is None or not str(docid).strip():
            raise fail(f"no document id (one of {', '.join(ID_FIELDS)})")
        docid = str(docid)
        body = next((record[k] for k in TEXT_FIELDS if k in record), None)
        title = record.get("title")
        if body is None and title is None:
            raise fail(f"document {docid!r} has no text (one of {', '.join(TEXT_FIELDS)}, or title)")
        if not isinstance(body, (str, type(None))) or not isinstance(title, (str, type(None))):
            raise fail(f"document {docid!r}: text and title must be strings")
        if not (body or "").strip() and not (title or "").strip():
            raise fail(f"document {docid!r} has empty text")
        if docid in seen:
            raise fail(f"duplicate document id {docid!r} (first on line {seen[docid]})")
        seen[docid] = number
        text = "\n".join(part for part in (title, body) if part)
        metadata = {"title": title} if title else {}
        documents.append(Candidate(docid=docid, text=text, metadata=metadata))
    return documents

"""Document collections for indexing: JSONL, TSV (`docid<TAB>text`), or a BEIR folder
(`corpus.jsonl`, `queries.jsonl`, `qrels/test.tsv`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rankwise.errors import InputError
from rankwise.io.documents import read_documents
from rankwise.io.lines import iter_jsonl, iter_lines
from rankwise.io.trec import Qrels
from rankwise.types import Candidate, Query


@dataclass
class Collection:
    documents: list[Candidate]
    queries: list[Query] = field(default_factory=list)
    qrels: Qrels = field(default_factory=dict)


def check_indexable(documents: Sequence[Candidate]) -> None:
    """What every index builder refuses: an empty corpus, a duplicate docid, an empty text."""
    if not documents:
        raise InputError("cannot index an empty corpus")
    seen: set[str] = set()
    for d in documents:
        if d.docid in seen:
            raise InputError(f"duplicate document id {d.docid!r} in the corpus")
        if not d.text.strip():
            raise InputError(f"document {d.docid!r} has empty text")
        seen.add(d.docid)


def read_corpus(path: str | Path) -> Collection:
    """Read a corpus by its shape: a folder is BEIR, `.tsv` is docid<TAB>text, anything else is JSONL."""
    path = Path(path)
    if path.is_dir():
        return read_beir(path)
    if path.suffix == ".tsv":
        return Collection(documents=read_tsv_documents(path))
    return Collection(documents=read_documents(path))


def read_tsv_documents(path: str | Path) -> list[Candidate]:
    documents, seen = [], {}
    for number, line in iter_lines(path):
        docid, sep, text = line.partition("\t")
        docid, text = docid.strip(), text.strip()
        if not sep or not docid:
            raise InputError("expected 'docid<TAB>text'", source=str(path), line=number)
        if not text:
            raise InputError(f"document {docid!r} has empty text", source=str(path), line=number)
        if docid in seen:
            raise InputError(
                f"duplicate document id {docid!r} (first on line {seen[docid]})", source=str(path), line=number
            )
        seen[docid] = number
        documents.append(Candidate(docid=docid, text=text))
    return documents


def read_beir(folder: str | Path, split: str = "test") -> Collection:
    folder = Path(folder)
    corpus = folder / "corpus.jsonl"
    if not corpus.is_file():
        raise InputError("not a BEIR folder: corpus.jsonl is missing", source=str(folder))
    documents = read_documents(corpus)
    queries = read_beir_queries(folder / "queries.jsonl") if (folder / "queries.jsonl").is_file() else []
    qrels: Qrels = {}
    qrels_file = folder / "qrels" / f"{split}.tsv"
    if qrels_file.is_file():
        for number, line in iter_lines(qrels_file):
            fields = line.split("\t")
            if number == 1 and fields[0] == "query-id":
                continue
            if len(fields) != 3:
                raise InputError("expected 'query-id<TAB>corpus-id<TAB>score'", source=str(qrels_file), line=number)
            try:
                qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
            except ValueError:
                raise InputError(
                    f"score {fields[2]!r} is not an integer", source=str(qrels_file), line=number
                ) from None
    return Collection(documents=documents, queries=queries, qrels=qrels)


def read_beir_queries(path: str | Path) -> list[Query]:
    queries: list[Query] = []
    seen: set[str] = set()
    for number, record in iter_jsonl(path):
        qid = record.get("_id", record.get("id")) if isinstance(record, dict) else None
        text = record.get("text") if isinstance(record, dict) else None
        if qid is None or not isinstance(text, str) or not text.strip():
            raise InputError("a query needs '_id' and non-empty 'text'", source=str(path), line=number)
        if str(qid) in seen:
            raise InputError(f"duplicate query id {qid!r}", source=str(path), line=number)
        seen.add(str(qid))
        queries.append(Query(qid=str(qid), text=text.strip()))
    return queries


def load_ir_dataset(name: str) -> Collection:
    """Documents, queries and qrels of an ir_datasets dataset (needs `pip install ir_datasets` and a network
    the first time)."""
    try:
        import ir_datasets
    except ImportError:
        raise InputError(f"ir_datasets is not installed: pip install ir_datasets to load {name!r}") from None
    try:
        dataset = ir_datasets.load(name)
        documents = [
            Candidate(docid=d.doc_id, text=getattr(d, "text", "") or getattr(d, "body", ""))
            for d in dataset.docs_iter()
        ]
        queries = [Query(qid=q.query_id, text=q.text) for q in dataset.queries_iter()] if dataset.has_queries() else []
        qrels: Qrels = {}
        if dataset.has_qrels():
            for q in dataset.qrels_iter():
                qrels.setdefault(q.query_id, {})[q.doc_id] = q.relevance
    except Exception as e:  # ir_datasets raises many kinds on a missing network or an unknown id
        raise InputError(f"ir_datasets could not load {name!r}: {type(e).__name__}: {e}") from None
    return Collection(documents=documents, queries=queries, qrels=qrels)

"""Training data in the formats users have, read into the same `QueryGroup`s as a collection folder, with
the held-out guard applied to all of them. The format is told from the content:

- a collection folder (`topics.tsv`, `qrels.txt`, `*_top100.json`): `build_query_groups`;
- JSONL triples, one query per line: `{"query", "positive", "negatives"}` (positive grade 2, relevant at the
  relevance level every trainer uses; negatives 0; `positive` may be a list);
- JSONL lists: `{"query", "passages", "labels"}` (integer grades) or `{"query", "passages", "scores"}` (a
  teacher's scores, kept under the `teacher` key that the listwise trainers read);
  a passage is a string or `{"id", "text"}`; lines with the same `qid` (or, without one, the same query) merge;
- a BEIR folder: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv` (`train` when there, else the only one);
- TREC: a folder with `qrels.txt` (or `*.qrels`), `topics.tsv` and `corpus.jsonl`;
- a `datasets` folder saved with `save_to_disk` whose rows are triples or lists (its `train` split if a
  DatasetDict);
- `irds:ID`: an ir_datasets id (downloaded when online): its queries, qrels and the judged documents' texts.

Passages without ids (triples, plain lists) get one from their text, so the same passage in two lines is one."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.io.collection import is_collection_folder
from rankwise.io.lines import iter_jsonl, iter_lines
from rankwise.pipelines.train.data import (
    BuildReport,
    HeldOut,
    PooledDoc,
    QueryGroup,
    build_query_groups,
    without_held_out,
)

TEACHER_KEY = "teacher"  # where a lists file's scores go; ListSampling.teacher reads it
IRDS_PREFIX = "irds:"
TRIPLE_FIELDS = ("query", "positive", "negatives")
# A triple's positive is relevant wherever relevance is decided: at grade 2, the relevance level that dev
# evaluation, mining and GRPO use (TREC DL's binary cut-off). Read as 1, it was never relevant there.
TRIPLE_POSITIVE_GRADE = 2
LIST_FIELDS = ("query", "passages", "labels or scores")
EXPECTED = (
    "a collection folder (topics.tsv, qrels.txt, *_top100.json), JSONL triples {query, positive, "
    "negatives}, JSONL lists {query, passages, labels|scores}, a BEIR folder (corpus.jsonl, queries.jsonl, "
    "qrels/), a TREC folder (qrels.txt, topics.tsv, corpus.jsonl), a saved datasets folder, or irds:ID"
)


def text_docid(text: str) -> str:
    return "t" + hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def read_training_data(
    source: str | Path, held_out: HeldOut | None = None, judged_only_queries: bool = False
) -> BuildReport:
    """The query groups of one training source in any supported format, held-out content dropped."""
    held_out = held_out or HeldOut()
    text = str(source)
    if text.startswith(IRDS_PREFIX):
        return without_held_out(_irds_groups(text[len(IRDS_PREFIX) :]), held_out)
    path = Path(source)
    if not path.exists():
        raise InputError(f"training data not found (expected {EXPECTED})", source=text)
    if path.is_dir():
        if is_collection_folder(path):
            return build_query_groups([path], held_out=held_out, judged_only_queries=judged_only_queries)
        held_out.check_collection(path)
        if (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file() and (path / "qrels").is_dir():
            groups = _beir_groups(path)
        elif (path / "corpus.jsonl").is_file() and (path / "topics.tsv").is_file() and _trec_qrels(path):
            groups = _trec_groups(path)
        elif (path / "dataset_info.json").is_file() or (path / "dataset_dict.json").is_file():
            groups = _datasets_groups(path)
        else:
            raise InputError(f"a folder of no training format rankwise reads; expected {EXPECTED}", source=text)
    else:
        groups = _rows_to_groups(iter_jsonl(path), path.stem, text)
    return without_held_out(groups, held_out)


def _passage(value: Any, where: str) -> tuple[str, str]:
    if isinstance(value, str) and value.strip():
        return text_docid(value), value
    if isinstance(value, dict) and isinstance(value.get("text"), str) and value["text"].strip():
        docid = value.get("id", value.get("docid"))
        return (str(docid) if docid is not None else text_docid(value["text"])), value["text"]
    raise ValueError(f"{where} is not a passage (a non-empty string or {{id, text}})")


def _rows_to_groups(rows: Iterable[tuple[int, Any]], name: str, source: str) -> list[QueryGroup]:
    """Triples or lists rows (line number, object) merged into groups by qid or query text."""
    groups: dict[str, QueryGroup] = {}
    shape = None
    for line, row in rows:

        def fail(problem: str, line: int = line) -> InputError:
            return InputError(problem, source=source, line=line)

        if not isinstance(row, dict):
            raise fail(
                f"expected a JSON object with {', '.join(TRIPLE_FIELDS)} (triples) or "
                f"{', '.join(LIST_FIELDS)} (lists), got {type(row).__name__}"
            )
        found = "triples" if "positive" in row or "negatives" in row else "lists" if "passages" in row else None
        if found is None:
            raise fail(
                f"neither a triple ({', '.join(TRIPLE_FIELDS)}) nor a list ({', '.join(LIST_FIELDS)}); "
                f"its fields are {', '.join(sorted(row)) or 'none'}"
            )
        if shape is not None and found != shape:
            raise fail(f"a {found[:-1]} in a file of {shape}")
        shape = found
        query = row.get("query")
        if not isinstance(query, str) or not query.strip():
            raise fail("missing field 'query' (a non-empty string)")
        try:
            docs = _triple_docs(row) if found == "triples" else _list_docs(row)
        except ValueError as e:
            raise fail(str(e)) from None
        qid = str(row["qid"]) if row.get("qid") is not None else text_docid(query)
        group = groups.setdefault(qid, QueryGroup(name, qid, query, []))
        by_id = {d.docid: d for d in group.docs}
        for doc in docs:
            known = by_id.get(doc.docid)
            if known is None:
                group.docs.append(doc)
                by_id[doc.docid] = doc
            elif doc.grade is not None:  # a passage judged twice keeps its best grade
                known.grade = max(known.grade or 0, doc.grade)
            else:
                known.scores.update(doc.scores)
    return list(groups.values())


def _triple_docs(row: dict[str, Any]) -> list[PooledDoc]:
    for field in ("positive", "negatives"):
        if field not in row:
            raise ValueError(f"missing field {field!r} (a triple is {', '.join(TRIPLE_FIELDS)})")
    positives = row["positive"] if isinstance(row["positive"], list) else [row["positive"]]
    negatives = row["negatives"] if isinstance(row["negatives"], list) else [row["negatives"]]
    if not positives:
        raise ValueError("field 'positive' is empty")
    docs = [PooledDoc(*_passage(p, f"positive {i}"), grade=TRIPLE_POSITIVE_GRADE) for i, p in enumerate(positives)]
    return docs + [PooledDoc(*_passage(n, f"negative {i}"), grade=0) for i, n in enumerate(negatives)]


def _list_docs(row: dict[str, Any]) -> list[PooledDoc]:
    passages = row["passages"]
    if not isinstance(passages, list) or not passages:
        raise ValueError("field 'passages' must be a non-empty list")
    key = "labels" if "labels" in row else "scores" if "scores" in row else None
    if key is None:
        raise ValueError("missing field 'labels' (integer grades) or 'scores' (a teacher's scores)")
    values = row[key]
    if not isinstance(values, list) or len(values) != len(passages):
        raise ValueError(f"field {key!r} must be a list with one value per passage ({len(passages)})")
    docs = []
    for i, (passage, value) in enumerate(zip(passages, values)):
        docid, text = _passage(passage, f"passage {i}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}[{i}] is not a number: {value!r}")
        if key == "labels":
            if int(value) != value:
                raise ValueError(
                    f"labels[{i}] = {value!r} is not an integer grade (give a teacher's real-valued scores as 'scores')"
                )
            docs.append(PooledDoc(docid, text, grade=int(value)))
        else:
            docs.append(PooledDoc(docid, text, grade=None, scores={TEACHER_KEY: float(value)}))
    return docs


def _judged_groups(
    name: str, queries: dict[str, str], qrels: dict[str, dict[str, int]], texts: dict[str, str], source: str
) -> list[QueryGroup]:
    groups = []
    for qid, judged in qrels.items():
        if qid not in queries:
            raise InputError(f"qrels name query {qid!r}, which the queries do not have", source=source)
        docs = []
        for docid, grade in judged.items():
            if docid not in texts:
                raise InputError(
                    f"qrels of query {qid!r} name document {docid!r}, which the corpus lacks", source=source
                )
            docs.append(PooledDoc(docid, texts[docid], grade=grade))
        groups.append(QueryGroup(name, qid, queries[qid], docs))
    return groups


def _beir_groups(folder: Path) -> list[QueryGroup]:
    from rankwise.io.documents import read_documents

    splits = sorted((folder / "qrels").glob("*.tsv"))
    chosen = [p for p in splits if p.stem == "train"] or splits
    if len(chosen) != 1:
        raise InputError(
            f"BEIR qrels: expected qrels/train.tsv or a single split, found "
            f"{', '.join(p.name for p in splits) or 'none'}",
            source=str(folder / "qrels"),
        )
    queries = {}
    for line, row in iter_jsonl(folder / "queries.jsonl"):
        if not isinstance(row, dict) or "_id" not in row or not isinstance(row.get("text"), str):
            raise InputError("a BEIR query is {_id, text}", source=str(folder / "queries.jsonl"), line=line)
        queries[str(row["_id"])] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    for line, text in iter_lines(chosen[0]):
        fields = text.split("\t")
        if line == 1 and fields[0] == "query-id":
            continue
        if len(fields) != 3:
            raise InputError("expected 'query-id<TAB>corpus-id<TAB>score'", source=str(chosen[0]), line=line)
        try:
            qrels.setdefault(fields[0], {})[fields[1]] = int(fields[2])
        except ValueError:
            raise InputError(f"score {fields[2]!r} is not an integer", source=str(chosen[0]), line=line) from None
    texts = {d.docid: d.text for d in read_documents(folder / "corpus.jsonl")}
    return _judged_groups(folder.name, queries, qrels, texts, str(folder))


def _trec_qrels(folder: Path) -> Path | None:
    if (folder / "qrels.txt").is_file():
        return folder / "qrels.txt"
    found = sorted(folder.glob("*.qrels"))
    return found[0] if len(found) == 1 else None


def _trec_groups(folder: Path) -> list[QueryGroup]:
    from rankwise.io.documents import read_documents
    from rankwise.io.trec import read_qrels, read_topics

    queries = {q.qid: q.text for q in read_topics(folder / "topics.tsv")}
    texts = {d.docid: d.text for d in read_documents(folder / "corpus.jsonl")}
    return _judged_groups(folder.name, queries, read_qrels(_trec_qrels(folder)), texts, str(folder))


def _datasets_groups(folder: Path) -> list[QueryGroup]:
    try:
        import datasets
    except ImportError:
        raise UnsupportedMethodError(
            "a saved datasets folder needs the datasets library: pip install datasets"
        ) from None
    loaded = datasets.load_from_disk(str(folder))
    if isinstance(loaded, datasets.DatasetDict):
        if "train" not in loaded:
            raise InputError(f"a DatasetDict without a 'train' split (it has {', '.join(loaded)})", source=str(folder))
        loaded = loaded["train"]
    return _rows_to_groups(((i + 1, row) for i, row in enumerate(loaded)), folder.name, f"{folder} (row)")


def _irds_groups(dataset_id: str) -> list[QueryGroup]:
    try:
        import ir_datasets
    except ImportError:
        raise UnsupportedMethodError("irds: ids need ir_datasets: pip install ir_datasets") from None
    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        raise InputError(f"ir_datasets has no dataset {dataset_id!r}") from None
    for part in ("queries", "qrels", "docs"):
        if not getattr(dataset, f"has_{part}")():
            raise InputError(f"ir_datasets {dataset_id!r} has no {part}; training needs queries, qrels and docs")
    queries = {q.query_id: q.text for q in dataset.queries_iter()}
    qrels: dict[str, dict[str, int]] = {}
    for qrel in dataset.qrels_iter():
        qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
    store = dataset.docs_store()
    wanted = {docid for judged in qrels.values() for docid in judged}
    texts = {}
    for doc in store.get_many_iter(wanted):
        texts[doc.doc_id] = doc.default_text()  # ir_datasets' own text of the document (title and body)
    return _judged_groups(dataset_id, queries, qrels, texts, f"irds:{dataset_id}")

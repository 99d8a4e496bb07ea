"""Training data from test collections: per-query groups of judged and unjudged candidates, pooled from
every first stage's candidate file, with grades from the qrels and each first stage's rank.

A collection is a folder in the `../shared/data` shape (`topics.tsv`, optional `qrels.txt`,
`<first_stage>_top100.json`). Held-out collections (the evaluation set) are read only to be excluded: any
query whose id or text, and any passage whose docid or text, occurs in one of them never reaches the
training data, and a training collection that *is* held out is refused."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io.collection import FIRST_STAGES, Collection
from rankwise.io.lines import iter_jsonl

SYNTHETIC_PREFIX = "synthetic:"  # collection name of groups with generated queries


@dataclass
class PooledDoc:
    docid: str
    text: str
    grade: int | None  # None: unjudged
    ranks: dict[str, int] = field(default_factory=dict)  # first stage -> 1-based rank
    scores: dict[str, float] = field(default_factory=dict)  # first stage or teacher -> score


@dataclass
class QueryGroup:
    """One training query with its pooled candidates, in the order of the first first stage, then the rest."""

    collection: str
    qid: str
    query: str
    docs: list[PooledDoc]

    @property
    def is_synthetic(self) -> bool:
        """Written by `synthetic.round_trip_groups`: a generated query over its source passage's pool."""
        return self.collection.startswith(SYNTHETIC_PREFIX)

    @property
    def judged(self) -> list[PooledDoc]:
        return [d for d in self.docs if d.grade is not None]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> QueryGroup:
        return cls(
            collection=entry["collection"],
            qid=str(entry["qid"]),
            query=entry["query"],
            docs=[PooledDoc(**d) for d in entry["docs"]],
        )


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass
class HeldOut:
    """What must never be trained on: query ids and texts, docids and passage texts of held-out collections."""

    folders: list[Path] = field(default_factory=list)
    qids: set[str] = field(default_factory=set)
    query_texts: set[str] = field(default_factory=set)
    docids: set[str] = field(default_factory=set)
    passage_texts: set[str] = field(default_factory=set)

    @classmethod
    def from_collections(cls, folders: Iterable[str | Path]) -> HeldOut:
        held = cls()
        for folder in map(Path, folders):
            if not folder.is_dir():
                raise InputError("held-out collection not found", source=str(folder))
            held.folders.append(folder.resolve())
            collection = Collection(folder)
            for query in collection.topics():
                held.qids.add(query.qid)
                held.query_texts.add(_normalized(query.text))
            for qid, judged in collection.qrels().items():
                held.qids.add(qid)
                held.docids.update(judged)
            for stage in collection.first_stages():
                for request in collection.candidates(stage):
                    held.qids.add(request.query.qid)
                    held.query_texts.add(_normalized(request.query.text))
                    for candidate in request.candidates:
                        held.docids.add(candidate.docid)
                        held.passage_texts.add(_normalized(candidate.text))
        return held

    def names(self) -> list[str]:
        """The held-out collections' folder names, as training records list them."""
        return [folder.name for folder in self.folders]

    def check_collection(self, folder: Path) -> None:
        if folder.resolve() in self.folders:
            raise InputError(
                "this collection is held out for evaluation and cannot be used for training", source=str(folder)
            )

    def has_query(self, qid: str, text: str) -> bool:
        return qid in self.qids or _normalized(text) in self.query_texts

    def has_passage(self, docid: str, text: str) -> bool:
        return docid in self.docids or _normalized(text) in self.passage_texts


@dataclass
class BuildReport:
    groups: list[QueryGroup]
    dropped_queries: int = 0
    dropped_passages: int = 0


def build_query_groups(
    collections: Sequence[str | Path],
    first_stages: Sequence[str] = FIRST_STAGES,
    held_out: HeldOut | None = None,
    judged_only_queries: bool = False,
) -> BuildReport:
    """Pool every first stage's candidates per query; grades come from `qrels.txt` when the collection has
    one. With `judged_only_queries`, queries without any judgment are left out."""
    held_out = held_out or HeldOut()
    report = BuildReport(groups=[])
    for folder in map(Path, collections):
        held_out.check_collection(folder)
        collection = Collection.open(folder)
        qrels = collection.qrels()
        stages = [s for s in first_stages if s in collection.first_stages()]
        if not stages:
            raise InputError(f"no candidate file for first stages {', '.join(first_stages)}", source=str(folder))
        groups: dict[str, QueryGroup | None] = {}  # None: a held-out query, dropped from every first stage
        for stage in stages:
            for request in collection.candidates(stage):
                qid = request.query.qid
                if qid in groups and groups[qid] is None:
                    continue
                if held_out.has_query(qid, request.query.text):
                    report.dropped_queries += 1
                    groups[qid] = None
                    continue
                group = groups.get(qid)
                if group is None:
                    group = groups[qid] = QueryGroup(folder.name, qid, request.query.text, [])
                by_id = {d.docid: d for d in group.docs}
                for rank, candidate in enumerate(request.candidates, start=1):
                    if held_out.has_passage(candidate.docid, candidate.text):
                        report.dropped_passages += 1
                        continue
                    doc = by_id.get(candidate.docid)
                    if doc is None:
                        doc = PooledDoc(candidate.docid, candidate.text, qrels.get(qid, {}).get(candidate.docid))
                        group.docs.append(doc)
                        by_id[doc.docid] = doc
                    doc.ranks[stage] = rank
                    if candidate.score is not None:
                        doc.scores[stage] = candidate.score
        for group in groups.values():
            if group is None or (judged_only_queries and not group.judged):
                continue
            report.groups.append(group)
    return report


def without_held_out(groups: Iterable[QueryGroup], held_out: HeldOut) -> BuildReport:
    """Groups read from a file, with held-out queries and passages dropped as `build_query_groups` drops them."""
    report = BuildReport(groups=[])
    for group in groups:
        if held_out.has_query(group.qid, group.query):
            report.dropped_queries += 1
            continue
        docs = [d for d in group.docs if not held_out.has_passage(d.docid, d.text)]
        report.dropped_passages += len(group.docs) - len(docs)
        report.groups.append(QueryGroup(group.collection, group.qid, group.query, docs))
    return report


def write_groups(groups: Iterable[QueryGroup], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for group in groups:
            f.write(json.dumps(group.to_json(), ensure_ascii=False) + "\n")


def read_groups(path: str | Path) -> list[QueryGroup]:
    groups = []
    for line, entry in iter_jsonl(path):
        try:
            groups.append(QueryGroup.from_json(entry))
        except (KeyError, TypeError) as e:
            raise InputError(f"not a query group: {e}", source=str(path), line=line) from None
    return groups


def query_folds(qids: Iterable[str], folds: int, seed: int = 0) -> list[list[str]]:
    """Query-level cross-validation folds, the same for the same ids and seed."""
    if folds < 2:
        raise InputError(f"cross-validation needs at least 2 folds, got {folds}")
    ordered = sorted(set(qids))
    if len(ordered) < folds:
        raise InputError(f"{len(ordered)} queries cannot be split into {folds} folds")
    random.Random(seed).shuffle(ordered)
    return [sorted(ordered[i::folds]) for i in range(folds)]


@dataclass
class ListwiseWindow:
    """Passages of one query in the order shown to the model, the gold order (positions, best first) and each
    passage's grade (for graded losses such as NeuralNDCG; None where unjudged)."""

    qid: str
    query: str
    passages: list[str]
    docids: list[str]
    gold_order: list[int]
    grades: list[float | None] | None = None


def sample_windows(
    group: QueryGroup,
    size: int,
    count: int,
    rng: random.Random,
    tie_break: str = "bm25",
) -> list[ListwiseWindow]:
    """`count` windows of `size` judged passages, shown in shuffled order; the gold order sorts by grade,
    ties by `tie_break` (a teacher's score in `scores`, else a first stage's rank)."""
    judged = group.judged
    if len(judged) < size:
        return []
    if len({d.grade for d in judged}) < 2:
        return []  # a window of equal grades has no order to learn

    def key(doc: PooledDoc) -> tuple[float, float]:
        secondary = -doc.scores[tie_break] if tie_break in doc.scores else doc.ranks.get(tie_break, 10**6)
        return (-(doc.grade or 0), secondary)

    windows = []
    for _ in range(count):
        shown = rng.sample(judged, size)
        gold = sorted(range(size), key=lambda i: key(shown[i]))
        windows.append(
            ListwiseWindow(
                group.qid,
                group.query,
                [d.text for d in shown],
                [d.docid for d in shown],
                gold,
                [d.grade for d in shown],
            )
        )
    return windows

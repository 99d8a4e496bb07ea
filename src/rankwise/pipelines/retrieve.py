"""First-stage BM25 retrieval with bm25s (PyStemmer stemming, English stopwords by default).

An index folder holds bm25s's sparse matrices, the documents (so hits carry their text for reranking)
and the tokenization settings, so `BM25Index.load` reopens it without rebuilding and tokenizes queries
exactly as the documents were."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rankwise.errors import InputError
from rankwise.pipelines.progress import OnProgress
from rankwise.types import Candidate, Query, Request

SETTINGS_FILE = "rankwise_bm25.json"
DOCUMENTS_FILE = "rankwise_documents.jsonl"


@dataclass(frozen=True)
class BM25Settings:
    k1: float = 0.9  # Anserini's defaults for MS MARCO passage
    b: float = 0.4
    stemmer: str | None = "english"
    stopwords: str | None = "en"


class BM25Index:
    def __init__(self, retriever, documents: list[Candidate], settings: BM25Settings):
        self.retriever = retriever
        self.documents = documents
        self.settings = settings

    @classmethod
    def build(
        cls, documents: Sequence[Candidate], settings: BM25Settings = BM25Settings(), show_progress: bool = False
    ) -> BM25Index:
        import bm25s

        from rankwise.io.corpus import check_indexable

        check_indexable(documents)
        tokens = bm25s.tokenize(
            [d.text for d in documents],
            stopwords=settings.stopwords,
            stemmer=_stemmer(settings.stemmer),
            show_progress=show_progress,
        )
        retriever = bm25s.BM25(k1=settings.k1, b=settings.b)
        retriever.index(tokens, show_progress=show_progress)
        return cls(retriever, list(documents), settings)

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(folder), show_progress=False)
        with open(folder / DOCUMENTS_FILE, "w", encoding="utf-8") as f:
            for d in self.documents:
                f.write(json.dumps({"docid": d.docid, "text": d.text}, ensure_ascii=False) + "\n")
        (folder / SETTINGS_FILE).write_text(json.dumps(asdict(self.settings)))

    @classmethod
    def load(cls, folder: str | Path) -> BM25Index:
        import bm25s

        from rankwise.io.documents import read_documents

        folder = Path(folder)
        if not (folder / SETTINGS_FILE).is_file():
            raise InputError(f"not a rankwise BM25 index ({SETTINGS_FILE} is missing)", source=str(folder))
        settings = BM25Settings(**json.loads((folder / SETTINGS_FILE).read_text()))
        retriever = bm25s.BM25.load(str(folder), show_progress=False)
        return cls(retriever, read_documents(folder / DOCUMENTS_FILE), settings)

    def search(
        self, queries: Sequence[Query], k: int = 100, on_progress: OnProgress | None = None, chunk: int = 256
    ) -> list[Request]:
        """Top-k candidates per query with their text; documents sharing no term with the query are not returned."""
        import bm25s

        if k < 1:
            raise InputError(f"k must be >= 1, got {k}")
        k = min(k, len(self.documents))
        requests = []
        for offset in range(0, len(queries), chunk):
            group = list(queries[offset : offset + chunk])
            tokens = bm25s.tokenize(
                [q.text for q in group],
                stopwords=self.settings.stopwords,
                stemmer=_stemmer(self.settings.stemmer),
                show_progress=False,
            )
            indices, scores = self.retriever.retrieve(tokens, k=k, show_progress=False)
            for query, row, row_scores in zip(group, indices, scores):
                hits = [
                    Candidate(docid=self.documents[i].docid, text=self.documents[i].text, score=float(s))
                    for i, s in zip(row.tolist(), row_scores.tolist())
                    if s > 0
                ]
                requests.append(Request(query=query, candidates=hits))
            if on_progress:
                on_progress(len(group))
        return requests


def _stemmer(name: str | None):
    if not name:
        return None
    import Stemmer

    return Stemmer.Stemmer(name)

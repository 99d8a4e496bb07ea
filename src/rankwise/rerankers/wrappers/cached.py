"""An on-disk result cache around any reranker, so repeated RAG calls and re-runs of evaluations skip
model work: `Reranker.load(model, cache=True)` (or `cache="path"`).

Keys hash the reranker's description (method, model and every parameter it reports) with the query and
the passage text. For methods whose candidate scores are independent (pointwise), each (query, passage)
score is cached alone, so a list that shares passages with an earlier one only scores the new ones. For
the others (listwise, pairwise, feedback), a score depends on the whole list, so the key covers the
query and every passage in order, and the list's scores are cached together. diskcache keeps the store
in SQLite, safe for several processes at once, and evicts least-recently-stored entries past
`size_limit` bytes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankwise.errors import UnsupportedMethodError
from rankwise.rerankers.base import BaseReranker, WrappingReranker
from rankwise.types import Query, Ranking, Request

DEFAULT_SIZE_LIMIT = 2**30  # 1 GiB


class CachedReranker(WrappingReranker):
    def __init__(self, inner: BaseReranker, directory: str | Path, size_limit: int = DEFAULT_SIZE_LIMIT):
        try:
            import diskcache
        except ImportError:
            raise UnsupportedMethodError("the result cache needs diskcache: pip install 'rankwise[cache]'") from None
        if inner.adapters is not None:
            raise UnsupportedMethodError(
                "the result cache keys scores by model, not by the LoRA adapter chosen per request: serve "
                "adapters without cache=, or merge one adapter (adapter=) and cache that model"
            )
        super().__init__(inner)
        self.directory = Path(directory)
        self.store = diskcache.Cache(str(self.directory), size_limit=size_limit)
        self._prefix = json.dumps(inner.describe(), sort_keys=True, default=str)
        self.hits = self.misses = 0

    def _key(self, query: Query, texts: Sequence[str]) -> str:
        # A request's instruction changes the scores: it is part of the key (keys without one are unchanged).
        parts = [self._prefix, query.text, list(texts)] + ([query.instruction] if query.instruction is not None else [])
        parts += [["feedback", *query.feedback]] if query.feedback else []  # keys without feedback are unchanged
        payload = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8", errors="surrogatepass")).hexdigest()

    def candidate_scores(self, requests: Sequence[Request]) -> list[list[float]]:
        if self.independent_candidates:
            return self._pairwise_cached(requests)
        return self._list_cached(requests)

    def _pairwise_cached(self, requests: Sequence[Request]) -> list[list[float]]:
        scores: list[list[float | None]] = []
        missing: list[tuple[int, int, str]] = []  # (request, candidate, key)
        for r, request in enumerate(requests):
            row: list[float | None] = []
            for c, candidate in enumerate(request.candidates):
                key = self._key(request.query, [candidate.text])
                value = self.store.get(key)
                row.append(value)
                if value is None:
                    missing.append((r, c, key))
            scores.append(row)
        self.hits += sum(len(r.candidates) for r in requests) - len(missing)
        self.misses += len(missing)
        if missing:
            todo: dict[int, list[int]] = {}
            for r, c, _ in missing:
                todo.setdefault(r, []).append(c)
            sub = [Request(requests[r].query, [requests[r].candidates[c] for c in cs]) for r, cs in todo.items()]
            fresh = iter(value for part in self.inner.candidate_scores(sub) for value in part)
            for r, c, key in missing:
                value = float(next(fresh))
                self.store.set(key, value)
                scores[r][c] = value
        return [[float(v) if v is not None else float("nan") for v in row] for row in scores]  # all filled above

    def _list_cached(self, requests: Sequence[Request]) -> list[list[float]]:
        keys = [self._key(r.query, [c.text for c in r.candidates]) for r in requests]
        found = [self.store.get(key) for key in keys]
        todo = [i for i, value in enumerate(found) if value is None]
        self.hits += len(requests) - len(todo)
        self.misses += len(todo)
        if todo:
            for i, part in zip(todo, self.inner.candidate_scores([requests[i] for i in todo])):
                found[i] = [float(v) for v in part]
                self.store.set(keys[i], found[i])
        return [list(values) for values in found]

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        # Scores are cached, not the orders built from them: ties and list methods' orders follow the scores.
        return [
            Ranking.from_scores(request, scores, trace={"cache": str(self.directory)})
            for request, scores in zip(requests, self.candidate_scores(requests))
        ]

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "cache": str(self.directory)}

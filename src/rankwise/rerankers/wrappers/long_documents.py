"""Long documents as a choice, not a silent truncation: each document is split into overlapping passages
of `passage_tokens` model tokens (every `stride` tokens), the wrapped method scores the passages, and a
document's score is the best passage's (MaxP, the default), the first passage's (FirstP) or the sum over
its passages (SumP). Splitting uses the tokenizer's character offsets, so passages are exact slices of the
document; each result names its best passage (`metadata["passage"]`: index, start and end characters).

`Reranker.load(model, long_documents="maxp", passage_tokens=128, passage_stride=64)`. A document that fits
in one passage is scored as it is. For list methods (listwise, feedback), the passages of all documents form
the list they rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.errors import OptionError, UnsupportedMethodError
from rankwise.rerankers.base import BaseReranker, WrappingReranker
from rankwise.types import Candidate, Ranking, Request, ScoreKind

AGGREGATIONS = ("maxp", "firstp", "sump")


def passage_spans(offsets: Sequence[tuple[int, int]], window: int, stride: int) -> list[tuple[int, int]]:
    """Character spans of token windows [i, i + window) for i = 0, stride, ..., the last one reaching the end."""
    if not offsets:
        return [(0, 0)]
    spans, start = [], 0
    while True:
        end = min(start + window, len(offsets))
        spans.append((offsets[start][0], offsets[end - 1][1]))
        if end == len(offsets):
            return spans
        start += stride


class PassageAggregating(WrappingReranker):
    def __init__(
        self, inner: BaseReranker, aggregation: str = "maxp", passage_tokens: int = 128, stride: int | None = None
    ):
        if aggregation not in AGGREGATIONS:
            raise OptionError(f"long_documents must be one of {', '.join(AGGREGATIONS)}, got {aggregation!r}")
        stride = stride or max(1, passage_tokens // 2)
        if passage_tokens < 1 or not 1 <= stride <= passage_tokens:
            raise OptionError(
                f"passage_tokens ({passage_tokens}) must be >= 1 and passage_stride ({stride}) "
                "between 1 and passage_tokens"
            )
        if inner.token_counter is None:
            raise UnsupportedMethodError(
                f"splitting long documents needs a backend that tokenizes locally; "
                f"{inner.model_label!r} ({inner.method}) has none"
            )
        if aggregation == "sump" and inner.score_kind is ScoreKind.ORDINAL:
            raise OptionError(f"SumP adds scores, and {inner.method!r} scores are only an order; use maxp or firstp")
        super().__init__(inner)
        self.aggregation, self.passage_tokens, self.stride = aggregation, passage_tokens, stride
        if aggregation == "sump":
            self.score_kind = ScoreKind.UNBOUNDED
        # The inner top_k counts passages, not the documents this wrapper is given: no document count follows.
        self.top_k = None

    def _split(self, request: Request) -> tuple[Request, list[list[tuple[int, int]]]]:
        """The request with passages as candidates (docid#k), and each document's passage spans."""
        passages, spans = [], []
        counter = self.token_counter
        assert counter is not None  # the constructor refuses a backend without one
        for candidate in request.candidates:
            offsets = counter.token_offsets(candidate.text)
            doc_spans = passage_spans(offsets, self.passage_tokens, self.stride)
            if self.aggregation == "firstp":
                doc_spans = doc_spans[:1]
            spans.append(doc_spans)
            for k, (start, end) in enumerate(doc_spans):
                text = candidate.text if len(doc_spans) == 1 and k == 0 else candidate.text[start:end]
                passages.append(Candidate(f"{candidate.docid}#{k}", text or candidate.text))
        return Request(request.query, passages), spans

    def _aggregate(self, scores: list[float], spans: list[list[tuple[int, int]]]) -> list[tuple[float, int]]:
        """(document score, best passage) per document."""
        out, offset = [], 0
        for doc_spans in spans:
            mine = scores[offset : offset + len(doc_spans)]
            offset += len(doc_spans)
            best = max(range(len(mine)), key=lambda k: mine[k])
            out.append((sum(mine) if self.aggregation == "sump" else mine[best], best))
        return out

    def _score_documents(
        self, requests: Sequence[Request]
    ) -> list[tuple[list[tuple[float, int]], list[list[tuple[int, int]]]]]:
        """Per request: (document score, best passage) per document, and each document's passage spans."""
        split = [self._split(r) for r in requests]
        scores = self.inner.candidate_scores([s for s, _ in split])
        return [(self._aggregate(part, spans), spans) for part, (_, spans) in zip(scores, split)]

    def candidate_scores(self, requests: Sequence[Request]) -> list[list[float]]:
        return [[score for score, _ in aggregated] for aggregated, _ in self._score_documents(requests)]

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        rankings = []
        for request, (aggregated, spans) in zip(requests, self._score_documents(requests)):
            named = [
                Candidate(
                    c.docid,
                    c.text,
                    c.score,
                    {
                        **c.metadata,
                        "passage": {
                            "index": best,
                            "start": spans[i][best][0],
                            "end": spans[i][best][1],
                            "of": len(spans[i]),
                        },
                    },
                )
                for i, (c, (_, best)) in enumerate(zip(request.candidates, aggregated))
            ]
            rankings.append(
                Ranking.from_scores(
                    Request(request.query, named),
                    [s for s, _ in aggregated],
                    trace={"long_documents": self.aggregation},
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **self.inner.describe(),
            "long_documents": self.aggregation,
            "passage_tokens": self.passage_tokens,
            "passage_stride": self.stride,
        }

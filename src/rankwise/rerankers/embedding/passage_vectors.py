"""Where an embedding method's passage vectors come from: its encoder, or a forward index (`index=DIR`,
built by `rankwise index --encode`) with the encoder for the candidates the index lacks.

In float32 the looked-up vectors are the ones the encoder gives (up to the last bits, which depend on how
texts were batched); the trace counts how many candidates were found, and how many were encoded on the
fly because the index lacks them or holds another text under their docid."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rankwise.backends.interface import Embedder
from rankwise.io.forward_index import ForwardIndex
from rankwise.rerankers.shared.feedback import marked_passages
from rankwise.types import Candidate, Request

if TYPE_CHECKING:
    import numpy as np


def feedback_passages(request: Request, similarities: np.ndarray, k: int) -> tuple[list[int], str]:
    """The positions of a query's feedback passages and whose they are: the candidates its user marked relevant
    (explicit feedback, in candidate order), else its top `k` by `similarities` (pseudo-relevance feedback)."""
    import numpy as np

    marked = marked_passages(request)
    if marked:
        return marked, "explicit"
    return np.argsort(-similarities, kind="stable")[:k].tolist(), "pseudo"


def per_request_vectors(
    encoder: Embedder, query_prefix: str, passages: PassageVectors, requests: list[Request]
) -> Iterator[tuple[Request, np.ndarray, np.ndarray, dict[str, Any]]]:
    """Each request with its unit query vector, its candidates' pooled vectors and where they came from (the
    trace); every query is encoded in one call and every passage looked up or encoded in one."""
    queries = encoder.embed_unit([query_prefix + r.query.text for r in requests])
    vectors, provenance = passages.pooled([c for r in requests for c in r.candidates])
    offset = 0
    for request, query in zip(requests, queries):
        start, offset = offset, offset + len(request.candidates)
        yield request, query, vectors[start:offset], provenance.trace(start, offset)


def prefix_for(encoder: Embedder, role: str, given: str | None) -> str:
    """The text put before a query or a document (`role`): the one given, else the encoder's folder's own
    sentence-transformers prompt for that role (none for an encoder that declares none)."""
    if given is not None:
        return given
    return (getattr(encoder, "prompts", None) or {}).get(role, "")


def encoder_description(
    encoder: Embedder, model_label: str, passage_prefix: str, passage_suffix: str = ""
) -> dict[str, Any]:
    """What must match between the encoder that built an index and the one that reads it (a suffix only
    when there is one, so indexes written before suffixes existed still match)."""
    return {
        "model": model_label,
        "pooling": "+".join(encoder.pooling),  # "mean" for one mode, as indexes written before have it
        "max_length": encoder.max_length,
        "passage_prefix": passage_prefix,
        **({"passage_suffix": passage_suffix} if passage_suffix else {}),
    }


class PassageVectors:
    def __init__(
        self,
        encoder: Embedder,
        model_label: str,
        passage_prefix: str = "",
        index: str | None = None,
        needs_tokens: bool = False,
        suffix: str = "",
    ):
        self.encoder = encoder
        self.passage_prefix, self.passage_suffix = passage_prefix, suffix
        self.index = ForwardIndex(index) if index else None
        if self.index is not None:
            description = encoder_description(encoder, model_label, passage_prefix, suffix)
            self.index.check_encoder(description, needs_tokens)

    def describe(self) -> dict[str, Any]:
        """For run provenance: the index read, if any (it changes the cost, not the float32 scores)."""
        return {"index": str(self.index.folder)} if self.index is not None else {}

    def pooled(self, candidates: Sequence[Candidate]) -> tuple[np.ndarray, Provenance]:
        """Unit passage vectors [n, d] in candidate order, and where each came from."""
        pooled, _, provenance = self._vectors(candidates, with_tokens=False)
        return pooled, provenance

    def with_tokens(self, candidates: Sequence[Candidate]) -> tuple[np.ndarray, list[np.ndarray], Provenance]:
        """Unit pooled vectors, each candidate's unit content-token vectors, and where they came from."""
        return self._vectors(candidates, with_tokens=True)

    def _vectors(self, candidates: Sequence[Candidate], with_tokens: bool) -> tuple[np.ndarray, list, Provenance]:
        if self.index is None:
            return (*self._encode(candidates, with_tokens), Provenance(None, [], []))
        found = self.index.lookup([c.docid for c in candidates], [c.text for c in candidates], with_tokens)
        if found.missing:
            pooled, tokens = self._encode([candidates[i] for i in found.missing], with_tokens)
            found.pooled[found.missing] = pooled
            for i, vectors in zip(found.missing, tokens):
                found.tokens[i] = vectors
        return found.pooled, found.tokens, Provenance(self.index, found.missing, found.stale_positions)

    def _encode(self, candidates: Sequence[Candidate], with_tokens: bool) -> tuple[np.ndarray, list]:
        texts = [self.passage_prefix + c.text + self.passage_suffix for c in candidates]
        if with_tokens:
            return self.encoder.embed_with_tokens(texts)  # type: ignore[attr-defined]
        return self.encoder.embed_unit(texts), [None] * len(texts)


@dataclass
class Provenance:
    """Which of a lookup's positions were encoded on the fly (`missing`) and, of those, which the index held
    under another text (`stale`); `index` is None when nothing was looked up."""

    index: ForwardIndex | None
    missing: list[int]
    stale: list[int]

    def trace(self, start: int, end: int) -> dict[str, Any]:
        """The counts for positions [start, end) (one request's candidates), for its trace; {} without an index."""
        if self.index is None:
            return {}
        encoded = sum(start <= i < end for i in self.missing)
        return {
            "index": {
                "from_index": end - start - encoded,
                "encoded": encoded,
                "stale": sum(start <= i < end for i in self.stale),
            }
        }

"""Building a forward index: every passage of a corpus encoded once, stored by docid in resumable chunks
(`io/forward_index.py`), for `embedding`, `embedding-prf` and `maxsim` rerankers given `index=DIR`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankwise.backends.interface import Capability
from rankwise.backends.options import RuntimeOptions
from rankwise.backends.registry import locate, open_backend, split_options
from rankwise.errors import InputError
from rankwise.io.corpus import check_indexable
from rankwise.io.forward_index import ForwardIndex, ForwardIndexWriter, IndexSettings, corpus_fingerprint, text_digest
from rankwise.models.resolve import ModelLocation
from rankwise.pipelines.progress import OnProgress
from rankwise.rerankers.embedding.passage_vectors import encoder_description, prefix_for
from rankwise.types import Candidate


def build_forward_index(
    documents: Sequence[Candidate],
    out: str | Path,
    model: str,
    token_vectors: bool = False,
    dtype: str = "float32",
    passage_prefix: str | None = None,
    passage_suffix: str = "",
    chunk_size: int = 1024,
    resume: bool = False,
    on_progress: OnProgress | None = None,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    **runtime_options: object,
) -> ForwardIndex:
    """Encode `documents` with `model` into `out`; with `resume`, continue a killed build from its last
    finished chunk (the same files as an uninterrupted build), reporting progress per chunk. With
    `engine="ray"`, `workers` Ray actors encode the chunks (`pipelines/index_ray.py`) and this process
    alone writes them, in order, so the files are those of a local build at the same thread count."""
    check_indexable(documents)
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    if engine not in ("local", "ray"):
        raise InputError(f"engine must be local or ray, got {engine!r}")
    runtime, unknown = split_options(dict(runtime_options))
    if unknown:
        raise InputError(f"options {', '.join(sorted(unknown))} are not runtime options of an encoder")
    location = locate(model, runtime.backend)
    encoder = open_encoder(location, runtime, token_vectors)
    passage_prefix = prefix_for(encoder, "document", passage_prefix)
    digests = [text_digest(d.text) for d in documents]
    settings = IndexSettings(
        encoder=encoder_description(encoder, location.label, passage_prefix, passage_suffix),
        dim=int(encoder.embed_unit(["dimension probe"]).shape[1]),
        dtype=dtype,
        token_vectors=token_vectors,
        chunk_size=chunk_size,
    )
    writer = ForwardIndexWriter(
        out, settings, corpus_fingerprint([d.docid for d in documents], digests), len(documents), resume=resume
    )
    if on_progress is not None:
        on_progress(writer.finished_rows, total=len(documents))
    starts = range(writer.finished_rows, len(documents), chunk_size)
    texts = ([passage_prefix + d.text + passage_suffix for d in documents[s : s + chunk_size]] for s in starts)
    if engine == "ray":
        from rankwise.pipelines.index_ray import encoded_on_ray

        encoded = encoded_on_ray(model, dict(runtime_options), token_vectors, texts, workers, address)
    else:
        encoded = (encode_chunk(encoder, chunk, token_vectors) for chunk in texts)
    for start, (pooled, tokens) in zip(starts, encoded):
        chunk = documents[start : start + chunk_size]
        writer.write_chunk([d.docid for d in chunk], digests[start : start + len(chunk)], pooled, tokens)
        if on_progress is not None:
            on_progress(len(chunk))
    writer.finish()
    return ForwardIndex(out)


def open_encoder(location: ModelLocation, runtime: RuntimeOptions, token_vectors: bool) -> Any:
    """The encoder an index is built with: pooled vectors, and token vectors when the index stores them."""
    needs = {Capability.EMBED, Capability.TOKEN_EMBED} if token_vectors else {Capability.EMBED}
    return open_backend(location, runtime, frozenset(needs), "index")


def encode_chunk(encoder: Any, texts: list[str], token_vectors: bool) -> tuple[Any, Any]:
    """One chunk's pooled vectors, and its token vectors when the index stores them."""
    if token_vectors:
        return encoder.embed_with_tokens(texts)
    return encoder.embed_unit(texts), None

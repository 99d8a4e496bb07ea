"""The public entry point: `Reranker.load(...)`."""

from __future__ import annotations

from typing import Any

from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.registry import load_reranker


class Reranker:
    """Factory for rerankers.

    >>> r = Reranker.load("minilm-embed")                      # doctest: +SKIP
    >>> r.rerank("how long do fleas live", ["...", "..."], top_n=10)  # doctest: +SKIP
    """

    @staticmethod
    def load(model: str, method: str | None = None, **options: Any) -> BaseReranker:
        """`model`: a registered name (see `rankwise models`), a local directory or .gguf file, a Hugging
        Face id, or a spec composing methods (`maxsim:minilm-embed@100 >> first:qwen2.5-coder-0.5b@20`,
        `rrf(a:m, b:m)`, or a .yaml file; see `rerankers.spec`), which names its own methods.
        `method`: defaults to the model's registered default, else follows its architecture.
        Options: device, dtype, batch_size, max_length, truncate, threads, plus method-specific ones.
        `cache=True` keeps scores on disk (under `$RANKWISE_CACHE/results`; or give a folder) so that the
        same query and passages are never scored twice; `cache_size_limit` in bytes (default 1 GiB).
        `long_documents="maxp"` (or "firstp", "sump") splits documents into passages of `passage_tokens`
        model tokens every `passage_stride` (default half) and scores a document by its passages.
        `calibration="calib.json"` (from `rankwise calibrate`; True: a registered model's own) gives every
        result a calibrated `probability` of relevance, and `rerank(..., min_probability=0.5)` keeps only the
        results at least that likely, possibly none. These keywords are declared, with their checks, in
        `rankwise.rerankers.wrappers.keywords`."""
        return load_reranker(model, method=method, **options)

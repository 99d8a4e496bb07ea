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
        """`model`: a registered name (see `rankwise models`), a local directory or .gguf file, or a Hugging
        Face id. `method`: defaults to the model's registered default, else follows its architecture.
        Options: device, dtype, batch_size, max_length, truncate, threads, plus method-specific ones."""
        return load_reranker(model, method=method, **options)

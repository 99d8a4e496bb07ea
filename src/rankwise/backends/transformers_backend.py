"""The transformers implementation of the backend interface: which class serves which capabilities."""

from __future__ import annotations

from typing import Any

from rankwise.backends.interface import Capability
from rankwise.backends.options import TransformersOptions
from rankwise.models.resolve import ModelLocation


def open_transformers(location: ModelLocation, runtime: TransformersOptions, needs: frozenset[Capability]) -> Any:
    """An encoder for embeddings, an encoder-decoder for seq2seq scoring, a layerwise reranker for per-layer
    head scores, a passage-embedding LM for PE-Rank, a sequence classifier for pair scores, else a causal LM."""
    if needs & {Capability.EMBED, Capability.TOKEN_EMBED}:
        from rankwise.backends.encoder import TextEncoder

        return TextEncoder(location, runtime)
    if Capability.MULTI_VECTOR in needs:
        from rankwise.backends.colbert import ColBERTEncoder

        return ColBERTEncoder(location, runtime)
    if Capability.SEQ2SEQ in needs:
        from rankwise.backends.seq2seq import Seq2SeqLM

        return Seq2SeqLM(location, runtime)
    if Capability.LAYER_HEAD in needs:
        from rankwise.backends.layerwise import LayerwiseMiniCPM

        return LayerwiseMiniCPM(location, runtime)
    if Capability.EMBEDDING_TOKENS in needs:
        from rankwise.backends.passage_embedding_lm import PassageEmbeddingLM

        return PassageEmbeddingLM(location, runtime)
    if Capability.SCORE_PAIRS in needs:
        from rankwise.backends.pair_scorer import PairScorer

        return PairScorer(location, runtime)
    from rankwise.backends.causal_lm import CausalLM

    return CausalLM(location, runtime)

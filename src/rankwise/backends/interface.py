"""What a backend is: the primitives reranking methods use, and the capabilities a backend declares.

Methods depend on these protocols and ask for capabilities (`BaseReranker.requires`); they never name a
concrete backend class. The transformers classes are one implementation (`encoder.py`, `pair_scorer.py`,
`causal_lm.py`); any other (llama.cpp, an OpenAI-compatible server, ONNX Runtime) implements the same
methods for the capabilities it declares and registers itself in `backends/registry.py`."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from rankwise.types import ScoreKind

if TYPE_CHECKING:
    import numpy as np


class Capability(str, Enum):
    """One primitive a backend offers. Values are the names users see in errors and `rankwise backends`."""

    EMBED = "embed"  # unit-length text embeddings
    TOKEN_EMBED = "token-embed"  # ... and unit-length vectors of each content token, from the same pass
    SCORE_PAIRS = "score-pairs"  # a relevance score per (query, passage) pair from one model
    TOKENIZE = "tokenize"  # token ids, decoding, chat template: the TextSide below
    NEXT_TOKEN_LOGPROBS = "next-token-logprobs"  # exact log P(token | prefix) for chosen tokens
    NEXT_TOKEN_LOGITS = "next-token-logits"  # raw (unnormalized) logits of chosen tokens
    BRIDGED_FIRST_TOKEN = "bridged-first-token"  # ... plus one cached single-token step (FIRST's "[" then "O")
    CONTINUATION_LOGPROBS = "continuation-logprobs"  # per-token log P(continuation | prefix)
    GENERATE = "generate"  # greedy decoding
    TOP_LOGPROBS = "top-logprobs"  # the k likeliest next tokens with their log-probs, as servers report them
    ATTENTION = "attention"  # attention weights of a forward pass
    SEQ2SEQ = "seq2seq"  # an encoder-decoder: first-step logits of chosen tokens, Fusion-in-Decoder generation
    MULTI_VECTOR = "multi-vector"  # a ColBERT checkpoint's own query and document token vectors
    LAYER_HEAD = "layer-head"  # a relevance head's score at the last position, read at a chosen layer
    EMBEDDING_TOKENS = "embedding-tokens"  # passages read and named as one token each: their projected embeddings

    def __str__(self) -> str:
        return self.value


LANGUAGE_MODEL = frozenset({Capability.TOKENIZE, Capability.NEXT_TOKEN_LOGPROBS})


@runtime_checkable
class TokenCounting(Protocol):
    """Counting and cutting text in the model's own tokens (no special tokens), for APIs that bill or
    truncate by tokens. Every backend with a local tokenizer offers it."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def cut_to_tokens(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that holds at most `max_tokens` tokens."""
        ...

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Each token's [start, end) character span in `text` (for splitting long documents exactly)."""
        ...

    def special_token_count(self) -> int:
        """Special tokens the backend adds around one text (counted in `max_length`, not by `count_tokens`)."""
        ...


class HFTokenCounting:
    """TokenCounting over a Hugging Face fast tokenizer (`self.tokenizer`); cuts at character offsets, so
    the kept text is the original's prefix, unchanged."""

    tokenizer: Any

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # verbose=False: counting a text longer than the model's limit is the point here, not a mistake to warn of.
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]]

    def cut_to_tokens(self, text: str, max_tokens: int) -> str:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        offsets = encoded["offset_mapping"]
        if len(offsets) <= max_tokens:
            return text
        return text[: offsets[max_tokens - 1][1]] if max_tokens > 0 else ""

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        return [
            tuple(span)
            for span in self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)[
                "offset_mapping"
            ]
        ]

    def special_token_count(self) -> int:
        return len(self.tokenizer("", add_special_tokens=True)["input_ids"])


@runtime_checkable
class TextSide(Protocol):
    """The tokenizer side of a language model, enough to build prompts and read identifiers exactly."""

    label: str
    truncate: bool

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str: ...

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str: ...

    def truncate_text(self, text: str, max_tokens: int, what: str = "passage") -> str: ...

    def single_token_ids(self, words: Sequence[str]) -> list[int]: ...


class Backend(Protocol):
    """Every backend object: where it runs and what it can do."""

    backend_name: str
    capabilities: frozenset[Capability]
    max_length: int  # tokens per input the backend accepts


@runtime_checkable
class Embedder(Backend, Protocol):
    pooling: tuple[str, ...]  # sentence-transformers pooling modes, their vectors concatenated in this order
    # Optional: `prompts`, a mapping of "query" and "document" to the texts put before them by default (the
    # folder's sentence-transformers prompts; `rerankers.embedding.passage_vectors.prefix_for` reads it).

    def embed_unit(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors in input order, so that dot products are cosines."""
        ...


@runtime_checkable
class TokenEmbedder(Embedder, Protocol):
    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Unit pooled vectors [n, d], and per text a [tokens, d] array of unit content-token vectors."""
        ...


@runtime_checkable
class PairScoring(Backend, Protocol):
    score_kind: ScoreKind  # LOGIT (one-logit head) or LOG_PROBABILITY (two-logit head)
    folder_activation: str  # what the checkpoint's own config applies to its scores: "sigmoid" or "none"

    def score(self, queries: Sequence[str], passages: Sequence[str], truncation: str = "longest_first") -> list[float]:
        """One relevance score per (query, passage) pair; an over-long pair is cut `longest_first` or
        `only_second` (the passage only)."""
        ...


@runtime_checkable
class LanguageModel(Backend, Protocol):
    text: TextSide

    def encode(self, text: str) -> list[int]: ...

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str: ...

    def default_prefix_ids(self) -> list[int]:
        """The special tokens the tokenizer puts before a text by default (a Llama or Mistral BOS), for prompts
        their authors' code tokenized as plain text instead of through a chat template; [] where none."""
        ...

    def next_token_logprobs(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """log P(token | sequence): shape [len(sequences), len(token_ids)]."""
        ...

    def first_token_logprobs(
        self,
        sequences: Sequence[Sequence[int]],
        first_ids: Sequence[int],
        bridge_id: int | None = None,
        second_ids: Sequence[int] = (),
    ) -> tuple[np.ndarray, np.ndarray]:
        """log P(first token), and with `bridge_id` log P(second token | bridge) from one cached step."""
        ...

    def continuation_logprobs(
        self, prefixes: Sequence[Sequence[int]], continuations: Sequence[Sequence[int]]
    ) -> list[np.ndarray]: ...

    def generate(
        self, sequences: Sequence[Sequence[int]], max_new_tokens: int, stop_ids: Sequence[int] = ()
    ) -> list[list[int]]:
        """Greedy continuations (new ids only): ended by the end-of-turn token (dropped), by one of `stop_ids`
        (kept), or by the budget."""
        ...


@runtime_checkable
class NextTokenLogits(LanguageModel, Protocol):
    def next_token_logits(self, sequences: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """The raw logits of `token_ids` after each sequence: shape [len(sequences), len(token_ids)]."""
        ...


@runtime_checkable
class TopLogprobs(LanguageModel, Protocol):
    def next_token_top_logprobs(self, sequences: Sequence[Sequence[int]], k: int) -> list[dict[str, float]]:
        """The k likeliest next tokens after each sequence as {token text: log P}, the shape of an
        OpenAI-compatible server's `top_logprobs`, for methods whose authors read that dictionary."""
        ...


@runtime_checkable
class AttentionReader(LanguageModel, Protocol):
    def attention_to_prefix(self, prefix: Sequence[int], suffixes: Sequence[Sequence[int]]) -> np.ndarray:
        """[len(suffixes), len(prefix)]: attention from each suffix's tokens to each prefix position, summed
        over the suffix's tokens, layers and heads, with the prefix computed once."""
        ...


@runtime_checkable
class Seq2SeqScoring(Backend, TokenCounting, Protocol):
    def vocabulary_id(self, token: str) -> int: ...

    def encode_source(self, text: str) -> list[int]: ...

    def fit_source(self, build: Any, passages: Sequence[str], what: str, policy: Any) -> list[int]:
        """Ids of `build(passages)` with the passages (never the template) cut by `policy` (`budget.fit`)
        until it fits the limit."""
        ...

    def first_step_logits(self, sources: Sequence[Sequence[int]], token_ids: Sequence[int]) -> np.ndarray:
        """The decoder's first-step logits for `token_ids`: shape [len(sources), len(token_ids)]."""
        ...

    def encode_cut(self, text: str, max_tokens: int) -> list[int]: ...

    def generate_fused(self, windows: Sequence[Sequence[Sequence[int]]], max_length: int) -> list[list[int]]:
        """Fusion-in-Decoder greedy decoding over each window's sources (LiT5)."""
        ...

    def multi_view_logits(self, sources: Sequence[Sequence[int]], views: int) -> np.ndarray:
        """MVP's one-step anchor scores of one query's sources, averaged over `views` markers: [len(sources)]."""
        ...

    def decode(self, ids: Sequence[int]) -> str: ...


@runtime_checkable
class MultiVectorEncoder(Backend, Protocol):
    settings: Any  # the checkpoint's ColBERT settings (markers, lengths, expansion)

    def encode_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per query, its unit token vectors as the checkpoint encodes queries (markers, expansion)."""
        ...

    def encode_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per document, the unit vectors of the tokens the checkpoint keeps (no padding, no skip-list)."""
        ...


@runtime_checkable
class LayerHeadScoring(Backend, Protocol):
    """A decoder trained with a relevance head on each of its upper layers (FlagEmbedding's layerwise
    rerankers): the score of a prompt is read at any of `head_layers`, and stopping at a lower layer costs
    proportionally less."""

    text: TextSide
    head_layers: range  # the layers with a head; the last is the model's full depth

    def encode(self, text: str) -> list[int]: ...

    def head_scores(self, sequences: Sequence[Sequence[int]], layer: int) -> np.ndarray:
        """The head's raw score at the last position of each sequence after `layer` layers: [len(sequences)]."""
        ...


@runtime_checkable
class EmbeddingTokenRanking(Backend, Protocol):
    """A decoder that reads each passage as one token (an encoder's embedding of it, projected into the
    decoder's input space, in place of a placeholder token) and names passages by those same tokens (PE-Rank)."""

    placeholder: str  # the token a passage's embedding replaces in a prompt

    def encode(self, text: str) -> list[int]: ...

    def chat_prefix(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str: ...

    def rank_embedded(self, prompt: Sequence[int], passages: Sequence[str]) -> tuple[list[int], list[list[float]]]:
        """Greedy decoding over the passages' tokens only, each named once: the order (indices into
        `passages`, best first) and, at each step, the logits of the passages not yet named, in index order."""
        ...

"""LangChain: `RankwiseRerank`, a document compressor like `CohereRerank` or `FlashrankRerank`, for
`ContextualCompressionRetriever` or any chain that takes a `BaseDocumentCompressor`.

    from rankwise.integrations.langchain import RankwiseRerank
    compressor = RankwiseRerank(model="minilm-embed", top_n=3)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=your_retriever)

Each returned document keeps its metadata, plus `relevance_score` (in [0, 1], as Cohere's) and
`rankwise_score` (the method's own score)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr

from rankwise.integrations._shared import LazyReranker, rerank_texts
from rankwise.rerankers.base import BaseReranker


class RankwiseRerank(LazyReranker, BaseDocumentCompressor):
    model: str = "minilm-embed"
    """A registered rankwise model, a local folder or .gguf file, or a Hugging Face id."""
    method: Optional[str] = None
    """The reranking method (default: the model's)."""
    top_n: Optional[int] = Field(3, ge=0)
    """Documents to keep (None: all, reordered)."""
    min_probability: Optional[float] = Field(None, ge=0, le=1)
    """With a calibration (options={"calibration": FILE}): keep only documents at least this likely to be
    relevant, possibly none; `relevance_score` is then the probability."""
    coverage: Optional[float] = Field(None, gt=0, lt=1)
    """With a calibration: keep the shortest prefix holding a relevant document with this probability, on
    average over queries (split conformal prediction)."""
    instruction: Optional[str] = None
    """The task instruction, for prompts with an instruction slot (Qwen3-Reranker's); others refuse it."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Method and runtime options, as `Reranker.load` takes them."""

    model_config = ConfigDict(extra="forbid")
    _reranker: Optional[BaseReranker] = PrivateAttr(default=None)

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Optional[Callbacks] = None
    ) -> Sequence[Document]:
        kept = rerank_texts(
            self.reranker,
            query,
            [d.page_content for d in documents],
            self.top_n,
            self.min_probability,
            self.coverage,
            self.instruction,
        )
        return [
            Document(
                page_content=documents[s.index].page_content,
                id=documents[s.index].id,
                metadata={**documents[s.index].metadata, "relevance_score": s.relevance, "rankwise_score": s.score},
            )
            for s in kept
        ]

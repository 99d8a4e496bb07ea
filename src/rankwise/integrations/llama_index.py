"""LlamaIndex: `RankwiseRerank`, a node postprocessor for a query engine's `node_postprocessors`, like
`SentenceTransformerRerank` or `CohereRerank`.

    from rankwise.integrations.llama_index import RankwiseRerank
    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[RankwiseRerank(top_n=3)])

Each returned node's score is the relevance in [0, 1], mapped from the method's own score by its kind (the
raw scores are in the Python API's rankings)."""

from __future__ import annotations

from typing import Any, Optional

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from rankwise.errors import InputError
from rankwise.integrations._shared import LazyReranker, rerank_texts
from rankwise.rerankers.base import BaseReranker


class RankwiseRerank(LazyReranker, BaseNodePostprocessor):
    model: str = Field(default="minilm-embed", description="A registered rankwise model, a folder or an HF id.")
    method: Optional[str] = Field(default=None, description="The reranking method (default: the model's).")
    top_n: Optional[int] = Field(default=3, ge=0, description="Nodes to keep (None: all, reordered).")
    min_probability: Optional[float] = Field(
        default=None,
        ge=0,
        le=1,
        description="With a calibration (options={'calibration': FILE}): only nodes at "
        "least this likely to be relevant, possibly none.",
    )
    coverage: Optional[float] = Field(
        default=None,
        gt=0,
        lt=1,
        description="With a calibration: the shortest prefix holding a relevant node "
        "with this probability on average over queries.",
    )
    instruction: Optional[str] = Field(
        default=None, description="The task instruction, for prompts with an instruction slot (Qwen3-Reranker's)."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="Options for Reranker.load.")
    _reranker: Optional[BaseReranker] = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "RankwiseRerank"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: Optional[QueryBundle] = None
    ) -> list[NodeWithScore]:
        if query_bundle is None:
            raise InputError(
                "RankwiseRerank needs the query: call postprocess_nodes(nodes, query_str=...) or "
                "use it in a query engine"
            )
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        kept = rerank_texts(
            self.reranker,
            query_bundle.query_str,
            texts,
            self.top_n,
            self.min_probability,
            self.coverage,
            self.instruction,
        )
        # The node itself is left as it is: metadata added here would leak into its text (MetadataMode.EMBED)
        # and into the next reranking.
        return [NodeWithScore(node=nodes[s.index].node, score=s.relevance) for s in kept]

"""Rerank a LlamaIndex query engine's nodes with rankwise (offline, MiniLM; no LLM call: no_text mode)."""

from llama_index.core import QueryBundle, Settings
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, TextNode

from rankwise.integrations.llama_index import RankwiseRerank

PASSAGES = [
    "Sourdough needs feeding with flour and water every day.",
    "An adult flea usually lives two to three months, sometimes more than a year.",
    "The flea market on the harbour sells antiques and records.",
    "Flea pupae can stay dormant in cocoons for up to a year.",
]


class EveryPassage(BaseRetriever):
    """Stands in for your index's retriever: returns every passage."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [NodeWithScore(node=TextNode(text=text, id_=f"p{i}"), score=0.0) for i, text in enumerate(PASSAGES)]


Settings.llm = MockLLM()  # offline: no answer is written (no_text), and no OpenAI default is looked up
engine = RetrieverQueryEngine.from_args(EveryPassage(), response_mode="no_text",
                                        node_postprocessors=[RankwiseRerank(model="minilm-embed", top_n=2)])
for node in engine.query("how long do fleas live").source_nodes:
    print(f"{node.score:.3f}  {node.node.node_id}  {node.node.get_content()}")

"""Rerank a LangChain retriever's documents with rankwise (offline, MiniLM)."""

from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rankwise.integrations.langchain import RankwiseRerank

PASSAGES = [
    "Sourdough needs feeding with flour and water every day.",
    "An adult flea usually lives two to three months, sometimes more than a year.",
    "The flea market on the harbour sells antiques and records.",
    "Flea pupae can stay dormant in cocoons for up to a year.",
]


class EveryPassage(BaseRetriever):
    """Stands in for your first stage (a vector store, BM25, ...): returns every passage."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [Document(page_content=text, metadata={"source": f"p{i}"}) for i, text in enumerate(PASSAGES)]


retriever = ContextualCompressionRetriever(base_compressor=RankwiseRerank(model="minilm-embed", top_n=2),
                                           base_retriever=EveryPassage())
for doc in retriever.invoke("how long do fleas live"):
    print(f"{doc.metadata['relevance_score']:.3f}  {doc.metadata['source']}  {doc.page_content}")

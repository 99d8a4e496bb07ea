"""Rerank a Haystack BM25 retriever's documents with rankwise (offline, MiniLM)."""

from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.document_stores.in_memory import InMemoryDocumentStore

from rankwise.integrations.haystack import RankwiseRanker

PASSAGES = [
    "Sourdough needs feeding with flour and water every day.",
    "An adult flea usually lives two to three months, sometimes more than a year.",
    "The flea market on the harbour sells antiques and records.",
    "Flea pupae can stay dormant in cocoons for up to a year.",
]

store = InMemoryDocumentStore()
store.write_documents([Document(content=text, id=f"p{i}") for i, text in enumerate(PASSAGES)])
pipeline = Pipeline()
pipeline.add_component("retriever", InMemoryBM25Retriever(store, top_k=4))
pipeline.add_component("ranker", RankwiseRanker(model="minilm-embed", top_k=2))
pipeline.connect("retriever.documents", "ranker.documents")
query = "how long does a flea live"
result = pipeline.run({"retriever": {"query": query}, "ranker": {"query": query}})
for doc in result["ranker"]["documents"]:
    print(f"{doc.score:.3f}  {doc.id}  {doc.content}")

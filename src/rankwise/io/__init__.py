"""Readers and writers for the formats rerankers meet: rank_llm candidate JSON, TREC runs, qrels and
topics, and JSONL document collections. Every reader reports a bad file as an InputError naming the
file, the line and the problem."""

from rankwise.io.candidates import iter_candidates, read_candidates, write_candidates
from rankwise.io.documents import read_documents
from rankwise.io.trec import read_qrels, read_run, read_topics, write_run

__all__ = [
    "iter_candidates",
    "read_candidates",
    "read_documents",
    "read_qrels",
    "read_run",
    "read_topics",
    "write_candidates",
    "write_run",
]

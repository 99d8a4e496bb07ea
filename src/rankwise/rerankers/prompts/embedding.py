"""Prompts that embedders read: E2Rank's pseudo-query, a listwise prompt embedded rather than generated from."""

from __future__ import annotations

# E2Rank's evaluation prompt for TREC DL (Alibaba-NLP/E2Rank src/eval.py, EVAL_PROMPTS["dl19"]), {passages}
# written "[1] text" per line.
E2RANK_DL = (
    "Given a web search query and some relevant documents, rerank the documents that answer the "
    "query:\nDocuments:\n{passages}\nSearch Query: {query}"
)
E2RANK_PASSAGE = "[{label}] {passage}"

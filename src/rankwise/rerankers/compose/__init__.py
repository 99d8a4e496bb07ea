"""Compositions of rerankers: the spec grammar, cascades, reciprocal rank fusion, learned fusion."""

"""Pointwise methods: each (query, passage) scored on its own (cross-encoders, LLM yes/no, query likelihood, T5,
reasoning, graded, layerwise)."""

"""Pipelines: rerank a candidate set, evaluate a run (later: retrieve, train)."""

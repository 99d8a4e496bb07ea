"""The HTTP reranking service: Cohere/Jina- and TEI-compatible endpoints over any rankwise reranker."""

from rankwise.server.app import ModelToServe, ServerSettings, create_app

__all__ = ["ModelToServe", "ServerSettings", "create_app"]

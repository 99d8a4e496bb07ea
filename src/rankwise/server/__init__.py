"""The HTTP reranking service: Cohere/Jina- and TEI-compatible endpoints over any rankwise reranker."""

from rankwise.server.app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]

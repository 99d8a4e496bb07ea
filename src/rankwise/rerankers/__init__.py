"""Reranking methods, one family per module, each registered under a method name in `registry`."""

from rankwise.rerankers.base import BaseReranker, PointwiseReranker
from rankwise.rerankers.registry import METHODS, load_reranker

__all__ = ["METHODS", "BaseReranker", "PointwiseReranker", "load_reranker"]

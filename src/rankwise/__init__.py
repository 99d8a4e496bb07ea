"""rankwise: rerank search results with neural and LLM rerankers."""

from rankwise.api import Reranker
from rankwise.errors import InputError, ModelNotAvailableError, RankwiseError, UnsupportedMethodError
from rankwise.types import Candidate, Query, Ranking, Request, Result

__version__ = "0.1.0"

__all__ = [
    "Reranker",
    "Candidate",
    "Query",
    "Ranking",
    "Request",
    "Result",
    "RankwiseError",
    "InputError",
    "ModelNotAvailableError",
    "UnsupportedMethodError",
    "__version__",
]

"""rankwise: rerank search results with neural and LLM rerankers."""

from rankwise.api import Reranker
from rankwise.errors import InputError, ModelNotAvailableError, OptionError, RankwiseError, UnsupportedMethodError
from rankwise.types import Candidate, Query, Ranking, Request, Result, ScoreKind

from rankwise.version import installed_version

__version__ = installed_version()

__all__ = [
    "Reranker",
    "Candidate",
    "Query",
    "Ranking",
    "Request",
    "Result",
    "ScoreKind",
    "RankwiseError",
    "InputError",
    "OptionError",
    "ModelNotAvailableError",
    "UnsupportedMethodError",
    "__version__",
]

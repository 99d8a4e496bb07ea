"""rankwise: rerank search results with neural and LLM rerankers."""

from rankwise.api import Reranker
from rankwise.errors import InputError, ModelNotAvailableError, OptionError, RankwiseError, UnsupportedMethodError
from rankwise.types import Candidate, Query, Ranking, Request, Result, ScoreKind
from rankwise.version import installed_version

__version__ = installed_version()

__all__ = [
    "Candidate",
    "InputError",
    "ModelNotAvailableError",
    "OptionError",
    "Query",
    "Ranking",
    "RankwiseError",
    "Request",
    "Reranker",
    "Result",
    "ScoreKind",
    "UnsupportedMethodError",
    "__version__",
]

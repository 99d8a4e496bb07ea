"""Errors that rankwise reports to users: each names the problem, and where it is known, the file and line."""

from __future__ import annotations


class RankwiseError(Exception):
    """Base class of every error rankwise raises on purpose."""


class InputError(RankwiseError, ValueError):
    """Bad user input: an empty query, a duplicate docid, a malformed file line."""

    def __init__(self, problem: str, *, source: str | None = None, line: int | None = None):
        self.problem = problem
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{problem}")


class ModelNotAvailableError(RankwiseError):
    """A model's weights cannot be found locally and cannot be downloaded."""


class UnsupportedMethodError(RankwiseError):
    """A reranking method was asked of a model (or a model kind) that cannot do it."""


class OptionError(InputError, TypeError):
    """A method or runtime option that does not exist or has the wrong type or value; raised at load time."""

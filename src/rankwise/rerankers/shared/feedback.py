"""Explicit relevance feedback: the candidates a request's user marked relevant (its query's `feedback`), which
methods use as Rocchio feedback (embedding-prf, maxsim), as kNN neighbours (feedback-knn) or as in-context
examples (llm-pointwise `feedback_examples`)."""

from __future__ import annotations

from rankwise.types import Request


def marked_passages(request: Request) -> list[int]:
    """The positions of the candidates the request's user marked relevant (its `feedback`), in candidate order."""
    feedback = set(request.query.feedback)
    return [i for i, c in enumerate(request.candidates) if c.docid in feedback]

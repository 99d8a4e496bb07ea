"""The data model: queries, candidate passages, reranking requests and the rankings they produce."""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union

from rankwise.errors import InputError
from rankwise.scoring import sigmoid_scalar


@dataclass(frozen=True)
class Query:
    """A query; `instruction` is the task instruction a request gives for it (filling the instruction slot of
    prompts that have one, such as Qwen3-Reranker's), None for the method's own; `feedback` the docids of
    candidates the user marked relevant (explicit relevance feedback, for methods that use it)."""

    qid: str
    text: str
    instruction: str | None = None
    feedback: tuple[str, ...] = ()


@dataclass
class Candidate:
    """A passage to rerank. `score` is the first stage's score, if any."""

    docid: str
    text: str
    score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


CandidateLike = Union[Candidate, str]


@dataclass
class Request:
    """One query and its candidates, validated on construction. `deadline` (a `time.monotonic()` instant) is
    a latency budget that methods able to trade quality for time keep to: a cascade runs its escalating
    stages for the most doubtful queries that fit before it."""

    query: Query
    candidates: list[Candidate]
    deadline: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.query.text, str) or not self.query.text.strip():
            raise InputError(f"query {self.query.qid!r} is empty")
        seen: set[str] = set()
        for position, candidate in enumerate(self.candidates):
            if not isinstance(candidate.text, str):
                raise InputError(
                    f"query {self.query.qid!r}: candidate {candidate.docid!r} (position {position}) "
                    f"has text of type {type(candidate.text).__name__}, expected str"
                )
            if candidate.docid in seen:
                raise InputError(
                    f"query {self.query.qid!r}: duplicate docid {candidate.docid!r} at position {position}"
                )
            seen.add(candidate.docid)

    @classmethod
    def build(
        cls,
        query: Query | str,
        candidates: Sequence[CandidateLike],
        qid: str = "q0",
        instruction: str | None = None,
        feedback: Sequence[str] | None = None,
    ) -> Request:
        """Accept plain strings for the query and passages; a plain passage's docid is its position.
        `feedback`: docids of candidates the user marked relevant."""
        if isinstance(query, str):
            query = Query(qid=qid, text=query)
        if instruction is not None:
            query = dataclasses.replace(query, instruction=instruction)
        if isinstance(candidates, (str, bytes)):
            raise InputError("candidates must be a list of passages, not a single string")
        normalized = [c if isinstance(c, Candidate) else _candidate_from_plain(i, c) for i, c in enumerate(candidates)]
        if feedback is not None:
            query = dataclasses.replace(query, feedback=checked_feedback(query.qid, feedback, normalized))
        return cls(query=query, candidates=normalized)


def checked_feedback(qid: str, feedback: Sequence[str], candidates: Sequence[Candidate]) -> tuple[str, ...]:
    """The docids a user marked relevant, each one of the query's candidates (a plain passage's docid is its
    position, as text)."""
    if isinstance(feedback, (str, bytes)):
        raise InputError(f"query {qid!r}: feedback must be a list of docids, not a single string")
    docids = {c.docid for c in candidates}
    given = [str(d) for d in feedback]
    unknown = [d for d in given if d not in docids]
    if unknown:
        raise InputError(
            f"query {qid!r}: feedback names {', '.join(map(repr, unknown[:5]))}, not among its candidates; "
            "feedback marks candidates of the request as relevant"
        )
    return tuple(dict.fromkeys(given))


def _candidate_from_plain(position: int, value: object) -> Candidate:
    if not isinstance(value, str):
        raise InputError(f"candidate at position {position} is a {type(value).__name__}; pass a str or a Candidate")
    return Candidate(docid=str(position), text=value)


class ScoreKind(str, Enum):
    """What a reranker's scores are, and so how they map monotonically onto [0, 1] for APIs that promise a
    relevance in that range (Cohere's `relevance_score`, TEI without `raw_scores`)."""

    PROBABILITY = "probability"  # already in [0, 1]
    LOG_PROBABILITY = "log-probability"  # <= 0; mapped by exp
    LOGIT = "logit"  # log-odds; mapped by the sigmoid
    COSINE = "cosine"  # in [-1, 1] (cosine, mean of cosines); mapped by (1 + s) / 2
    STANDARDIZED = "standardized"  # z-scores within one query's list; mapped by the sigmoid
    ORDINAL = "ordinal"  # only the order means something (positions, wins, attention); mapped by rank
    UNBOUNDED = "unbounded"  # any real on a fixed but uncalibrated scale (a learned fusion); the sigmoid
    CALIBRATED_PROBABILITY = "calibrated-probability"  # a probability of relevance from a fitted calibration

    def to_unit_interval(self, scores: Sequence[float]) -> list[float]:
        """The scores of one query's candidates mapped onto [0, 1], keeping their order. ORDINAL maps by rank
        within the list: the best gets 1, the k-th 1 - (k - 1) / n, ties the same."""
        if self is ScoreKind.ORDINAL:
            ascending, n = sorted(scores), len(scores)
            return [1.0 - (n - bisect.bisect_right(ascending, s)) / n for s in scores]
        if self in (ScoreKind.PROBABILITY, ScoreKind.CALIBRATED_PROBABILITY):
            return [min(1.0, max(0.0, s)) for s in scores]
        if self is ScoreKind.LOG_PROBABILITY:
            return [math.exp(min(0.0, s)) for s in scores]
        if self is ScoreKind.COSINE:
            return [min(1.0, max(0.0, (1.0 + s) / 2.0)) for s in scores]
        return [sigmoid_scalar(s) for s in scores]


@dataclass
class Result:
    """One reranked passage: its new rank (1-based), the reranker's score, and with a calibration its
    probability of being relevant."""

    docid: str
    text: str
    score: float
    rank: int
    metadata: dict[str, Any] = field(default_factory=dict)
    probability: float | None = None


@dataclass
class Ranking:
    """The reranked list for one query, best first. `score_kind` says what the scores are (the reranker sets
    it); `trace` holds method-specific details (raw LLM responses, window schedules, timings)."""

    query: Query
    results: list[Result]
    trace: dict[str, Any] = field(default_factory=dict)
    score_kind: ScoreKind = ScoreKind.UNBOUNDED

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __getitem__(self, index: int) -> Result:
        return self.results[index]

    @property
    def docids(self) -> list[str]:
        return [r.docid for r in self.results]

    def top(self, n: int) -> Ranking:
        return Ranking(query=self.query, results=self.results[:n], trace=self.trace, score_kind=self.score_kind)

    def within(self, depths: Sequence[float], depth: float) -> Ranking:
        """The results whose depth (one per result, growing down the list) is at most `depth`: a prefix."""
        kept = [r for r, d in zip(self.results, depths) if d <= depth]
        return Ranking(query=self.query, results=kept, trace=self.trace, score_kind=self.score_kind)

    def at_least(self, probability: float) -> Ranking:
        """The results whose calibrated probability is at least `probability` (possibly none)."""
        kept = [r for r in self.results if r.probability is not None and r.probability >= probability]
        return Ranking(query=self.query, results=kept, trace=self.trace, score_kind=self.score_kind)

    @classmethod
    def from_scores(
        cls,
        request: Request,
        scores: Sequence[float],
        top_n: int | None = None,
        trace: dict[str, Any] | None = None,
    ) -> Ranking:
        """Order candidates by descending score; ties keep the input order, so results are stable."""
        if len(scores) != len(request.candidates):
            raise ValueError(f"{len(scores)} scores for {len(request.candidates)} candidates")
        order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
        return cls.from_order(request, order, [float(scores[i]) for i in order], top_n, trace)

    @classmethod
    def from_head(
        cls,
        request: Request,
        head_order: Sequence[int],
        head_scores: Sequence[float],
        trace: dict[str, Any] | None = None,
    ) -> Ranking:
        """The first len(head_order) candidates reordered (positions, best first, with their scores); the rest
        follow in input order, scored one apart below the lowest head score so that scores and ranks agree."""
        count = len(head_order)
        lowest = min(head_scores, default=0.0)
        tail = list(range(count, len(request.candidates)))
        return cls.from_order(
            request,
            list(head_order) + tail,
            [float(x) for x in head_scores] + [lowest - 1 - i for i in range(len(tail))],
            trace=trace,
        )

    @classmethod
    def first_stage(cls, request: Request) -> Ranking:
        """The candidates as the first stage ranked them: by their scores when all have one (ties keep the
        input order), else in input order."""
        scores = [c.score for c in request.candidates]
        known = [s for s in scores if s is not None]
        if len(known) == len(scores):
            return cls.from_scores(request, known)
        n = len(scores)
        return cls.from_order(request, list(range(n)), [float(n - i) for i in range(n)])

    @classmethod
    def from_order(
        cls,
        request: Request,
        order: Sequence[int],
        scores: Sequence[float],
        top_n: int | None = None,
        trace: dict[str, Any] | None = None,
    ) -> Ranking:
        """Build a ranking from candidate positions, best first, with their scores."""
        if sorted(order) != list(range(len(request.candidates))):
            raise ValueError("order must be a permutation of the candidate positions")
        if top_n is not None:
            order, scores = order[:top_n], scores[:top_n]
        results = [
            Result(
                docid=request.candidates[i].docid,
                text=request.candidates[i].text,
                score=float(s),
                rank=rank,
                metadata=request.candidates[i].metadata,
            )
            for rank, (i, s) in enumerate(zip(order, scores), start=1)
        ]
        return cls(query=request.query, results=results, trace=dict(trace or {}))

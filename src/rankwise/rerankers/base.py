"""What every reranker offers: `rerank` for one query, `rerank_batch` for many."""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from rankwise.backends.adapters import AdapterSwitching
from rankwise.backends.interface import Capability, TokenCounting
from rankwise.backends.options import RuntimeOptions
from rankwise.backends.registry import open_backend
from rankwise.calibration import Calibration, depths_down
from rankwise.errors import InputError, OptionError
from rankwise.models.resolve import ModelLocation
from rankwise.options import NoOptions, validate_options
from rankwise.types import Candidate, CandidateLike, Query, Ranking, Request, ScoreKind


@dataclasses.dataclass
class ScoredRequest:
    """A request's candidate scores in input order, and the trace of the ranking they came from."""

    scores: list[float]
    trace: dict[str, Any]


class BaseReranker(ABC):
    """A method: `requires` names the backend capabilities it uses, `Options` its own typed options (each
    default declared there once); the constructor takes the opened backend, the model label and an `Options`
    instance already checked (`build` checks keyword options first)."""

    method: ClassVar[str]
    model_kinds: ClassVar[tuple[str, ...]] = ()  # registered model kinds it accepts (models/registry.py)
    requires: ClassVar[frozenset[Capability]] = frozenset()
    Options: ClassVar[type] = NoOptions
    # What the scores are (an instance may refine it from its options); every Ranking it returns says so.
    score_kind: ScoreKind = ScoreKind.UNBOUNDED
    # True when a candidate's score never depends on the other candidates of its query, so that a server
    # may split one request's candidates across batches and merge candidates of different requests.
    independent_candidates: ClassVar[bool] = False
    # The backend, when it counts tokens in the model's own vocabulary (set at load): for APIs that bill and
    # truncate by tokens.
    token_counter: TokenCounting | None = None
    # Set by methods that reorder only the first top_k candidates they are given (listwise, PRP, setwise, ...).
    top_k: int | None = None
    # The calibration every result's `probability` comes from (set by the calibration wrapper), else None.
    calibration: Calibration | None = None
    # True when the method's prompt has an instruction slot that a request's `Query.instruction` fills.
    takes_instruction: bool = False
    # True when the method uses explicit relevance feedback (`Query.feedback`: candidates marked relevant).
    takes_feedback: bool = False
    # True when the method trades quality for time within a request's latency budget (`Request.deadline`:
    # a cascade whose stage after a calibrated one escalates only the doubtful queries that fit).
    takes_budget: bool = False
    # The backend, when its model carries unmerged LoRA adapters (runtime option `adapters`) that a server
    # switches between per batch of requests; None otherwise (a composition's several models included).
    adapters: AdapterSwitching | None = None

    def __init__(self, model_label: str):
        self.model_label = model_label

    @classmethod
    def from_model(cls, location: ModelLocation, runtime: RuntimeOptions, **options: Any) -> BaseReranker:
        """Check the method's options, open a backend offering `requires` with the (already checked) runtime
        options, and build the method around it; unknown or badly typed options and missing capabilities
        fail here, before the first query."""
        method_options = cls.checked_options(options)
        backend = open_backend(location, runtime, cls.requires, cls.method)
        constructor: Any = cls  # each method's constructor takes (backend, model_label, its Options)
        reranker = constructor(backend, location.label, method_options)
        if isinstance(backend, TokenCounting):
            reranker.token_counter = backend
        if isinstance(backend, AdapterSwitching) and backend.adapter_names:
            reranker.adapters = backend
        return reranker

    @classmethod
    def checked_options(cls, options: dict[str, Any]) -> Any:
        """The method's `Options` from keyword options, each checked against its declaration."""
        return validate_options(cls.Options, f"method {cls.method!r}", options)

    @classmethod
    def build(cls, backend: Any, model_label: str, **options: Any) -> Any:
        """The method over an already opened backend (or any object with the primitives it needs), its
        keyword options checked as at load: for tests and for code that opens backends itself."""
        constructor: Any = cls
        return constructor(backend, model_label, cls.checked_options(options))

    def rerank(
        self,
        query: Query | str,
        candidates: Sequence[CandidateLike],
        top_n: int | str | None = None,
        qid: str = "q0",
        min_probability: float | None = None,
        coverage: float | None = None,
        instruction: str | None = None,
        feedback: Sequence[str] | None = None,
        budget: float | None = None,
    ) -> Ranking:
        """`instruction` fills the instruction slot of prompts that have one (Qwen3-Reranker's, mxbai v2's) for
        this query; a method without one refuses it. `feedback`: docids of candidates the user marked relevant
        (positions as text for plain passages), for methods that take explicit feedback (embedding-prf,
        maxsim); others refuse it."""
        request = Request.build(query, candidates, qid=qid, instruction=instruction, feedback=feedback)
        return self.rerank_batch(
            [request], top_n=top_n, min_probability=min_probability, coverage=coverage, budget=budget
        )[0]

    def rerank_batch(
        self,
        requests: Sequence[Request],
        top_n: int | str | None = None,
        min_probability: float | None = None,
        coverage: float | None = None,
        budget: float | None = None,
    ) -> list[Ranking]:
        """Rerank many queries at once; methods batch work across queries where they can. With a calibration
        (`Reranker.load(..., calibration=...)`), `min_probability` keeps only the results at least that likely
        to be relevant, possibly none, and `top_n="adaptive"` with `coverage=0.9` keeps per query the
        shortest prefix that holds a relevant passage with that probability (split conformal prediction on
        the calibration queries: a guarantee on average over queries, not for each one). `budget`: seconds
        this call may take, for methods that trade quality for time (`takes_budget`: a cascade escalating
        only doubtful queries); each request's `deadline` is then now + budget."""
        adaptive = top_n == "adaptive"
        if isinstance(top_n, str) and not adaptive:
            raise InputError(f"top_n must be a number or 'adaptive', got {top_n!r}")
        if isinstance(top_n, int) and top_n < 0:
            raise InputError(f"top_n must be >= 0, got {top_n}")
        if adaptive != (coverage is not None):
            raise InputError("top_n='adaptive' and coverage go together: top_n='adaptive', coverage=0.9")
        if (min_probability is not None or adaptive) and self.calibration is None:
            raise OptionError(
                f"{'min_probability' if min_probability is not None else 'an adaptive top_n'} "
                "needs calibrated scores: load the reranker with a calibration "
                "(calibration='calib.json', from `rankwise calibrate`)"
            )
        if min_probability is not None and not 0.0 <= min_probability <= 1.0:
            raise InputError(f"min_probability must be in [0, 1], got {min_probability}")
        if not self.takes_instruction and any(r.query.instruction is not None for r in requests):
            raise InputError(self.no_instruction_slot())
        if not self.takes_feedback and any(r.query.feedback for r in requests):
            raise InputError(self.no_feedback())
        if budget is not None or any(r.deadline is not None for r in requests):
            requests = self._with_deadline(requests, budget)
        depth = (
            self.calibration.cutoff_depth(coverage)
            if adaptive and self.calibration is not None and coverage is not None
            else None
        )
        if not requests:
            return []
        start = time.perf_counter()
        rankings = self._rerank(list(requests))
        elapsed = time.perf_counter() - start
        for ranking in rankings:
            ranking.score_kind = self.score_kind
            ranking.trace.setdefault("method", self.method)
            ranking.trace.setdefault("model", self.model_label)
            ranking.trace["seconds"] = elapsed / len(requests)
        if depth is not None:  # on the whole list, as the calibration's depths were measured
            rankings = [r.within(depths_down([x.probability or 0.0 for x in r]), depth) for r in rankings]
        if min_probability is not None:
            rankings = [r.at_least(min_probability) for r in rankings]
        if depth is not None:
            for ranking in rankings:
                ranking.trace["cutoff"] = {
                    "coverage": coverage,
                    "depth": depth if depth != float("inf") else None,
                    "kept": len(ranking),
                }
            return rankings
        return [r.top(top_n) if isinstance(top_n, int) else r for r in rankings]

    @abstractmethod
    def _rerank(self, requests: list[Request]) -> list[Ranking]: ...

    def _with_deadline(self, requests: Sequence[Request], budget: float | None) -> list[Request]:
        """The requests with `budget` seconds from now as their deadline (one they carry already kept),
        refused by a method that cannot keep to one."""
        if not self.takes_budget:
            raise InputError(
                f"{self.method!r} over {self.model_label!r} cannot trade quality for time, so a latency budget "
                "does not apply; budgets are for cascades whose stage after a calibrated one escalates only "
                "doubtful queries (e.g. 'maxsim:minilm-embed{calibration=c.json}@100 >> first:MODEL@20')"
            )
        if budget is None:
            return list(requests)
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget < 0:
            raise InputError(f"budget must be seconds >= 0, got {budget!r}")
        deadline = time.monotonic() + float(budget)
        return [r if r.deadline is not None else dataclasses.replace(r, deadline=deadline) for r in requests]

    def no_instruction_slot(self) -> str:
        """Why a request's instruction is refused by a method whose prompt has no slot for it."""
        return (
            f"{self.method!r} over {self.model_label!r} has no instruction slot to fill; an instruction is for "
            "prompts that take one (llm-pointwise with qwen3_reranker or mxbai_rerank_v2)"
        )

    def no_feedback(self) -> str:
        """Why a request's relevance feedback is refused by a method that does not use it."""
        return (
            f"{self.method!r} over {self.model_label!r} does not use relevance feedback; the methods that do are "
            "embedding-prf and maxsim with prf_k > 0 (the marked passages replace their pseudo-relevant ones)"
        )

    def scored_requests(self, requests: Sequence[Request]) -> list[ScoredRequest]:
        """Per request, each candidate's score in input order and the ranking's trace: the one interface
        through which a server batches every method (several requests per call; split ones too when
        `independent_candidates`), and returns what reasoning methods thought when asked."""
        scored = []
        for request, ranking in zip(requests, self.rerank_batch(requests)):
            by_docid = {result.docid: result.score for result in ranking.results}
            scored.append(ScoredRequest([by_docid[candidate.docid] for candidate in request.candidates], ranking.trace))
        return scored

    def candidate_scores(self, requests: Sequence[Request]) -> list[list[float]]:
        """Per request, each candidate's score in input order."""
        return [scored.scores for scored in self.scored_requests(requests)]

    def describe(self) -> dict[str, Any]:
        """Parameters worth recording next to a run."""
        return {"method": self.method, "model": self.model_label}

    def reranked_count(self, candidates: int) -> int:
        """How many of `candidates` given candidates the method actually reorders: the one definition that
        pipelines count (docs/s) by. Methods with their own `top_k` leave the rest in input order below."""
        return min(candidates, self.top_k) if self.top_k is not None else candidates


class WrappingReranker(BaseReranker):
    """A reranker around another one (the result cache, long documents) that answers for it: the same method,
    score kind, independence of candidates, token counter and top_k, taken in one place."""

    def __init__(self, inner: BaseReranker):
        super().__init__(inner.model_label)
        self.inner = inner
        self.method = inner.method  # type: ignore[misc]  # reported as the method it wraps
        self.score_kind = inner.score_kind
        self.independent_candidates = inner.independent_candidates  # type: ignore[misc]
        self.token_counter = inner.token_counter
        self.top_k = inner.top_k
        self.takes_instruction = inner.takes_instruction
        self.takes_feedback = inner.takes_feedback
        self.takes_budget = inner.takes_budget
        self.adapters = inner.adapters

    def scored_requests(self, requests: Sequence[Request]) -> list[ScoredRequest]:
        # A wrapper answers through its own `candidate_scores` (the cache, per-passage aggregation); the inner
        # method's trace is not carried through it.
        return [ScoredRequest(scores, {}) for scores in self.candidate_scores(requests)]


def shared_token_counter(rerankers: Iterable[BaseReranker]) -> TokenCounting | None:
    """The first token counter among rerankers a composition runs (fusion, cascade, RRF), so that it counts
    tokens as its first model with a tokenizer does."""
    return next((r.token_counter for r in rerankers if r.token_counter is not None), None)


class HeadReranker(BaseReranker):
    """Methods that rank each request on its own, over its first `top_k` candidates with their passages cut to
    `max_passage_tokens` model tokens (pairwise, setwise, ICR): `_rank` gets the request and those passages."""

    lm: Any
    max_passage_tokens: int

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        return [self._rank(request, self.head_passages(request)) for request in requests]

    def head_passages(self, request: Request) -> list[str]:
        return [
            self.lm.text.truncate_text(c.text, self.max_passage_tokens, what=f"passage {c.docid!r}")
            for c in request.candidates[: self.top_k]
        ]

    @abstractmethod
    def _rank(self, request: Request, passages: list[str]) -> Ranking: ...


class PointwiseReranker(BaseReranker):
    """Scores each (query, passage) pair independently, so pairs of all queries share batches."""

    independent_candidates = True

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        pairs = [(request.query, candidate) for request in requests for candidate in request.candidates]
        scores, trace_of = self.score_pairs_traced(pairs) if pairs else ([], lambda start, end: {})
        rankings, offset = [], 0
        for request in requests:
            end = offset + len(request.candidates)
            rankings.append(Ranking.from_scores(request, scores[offset:end], trace=trace_of(offset, end)))
            offset = end
        return rankings

    def score_pairs_traced(
        self, pairs: Sequence[tuple[Query, Candidate]]
    ) -> tuple[list[float], Callable[[int, int], dict[str, Any]]]:
        """The scores, and the trace of the pairs at positions [start, end) (one request's); no trace here."""
        return self.score_pairs(pairs), lambda start, end: {}

    @abstractmethod
    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]: ...

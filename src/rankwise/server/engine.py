"""Scoring a request's texts through the micro-batcher: the one path every rerank route takes, under one
deadline for the whole request (`answered_in_time`) that the client's disconnect, the deadline and the
server's stop cancel, and errors below the server turned into the answers a client should see."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from rankwise.calibration import Calibration, depths_down
from rankwise.cancellation import Cancelled, cancellable, check_cancelled
from rankwise.errors import InputError
from rankwise.io.traffic import traffic_record
from rankwise.rerankers.base import BaseReranker, ScoredRequest
from rankwise.server.batcher import Overloaded
from rankwise.server.limits import budget_deadline, marked_feedback
from rankwise.server.state import ApiError, LoadedModel, ServiceState, Target
from rankwise.types import Candidate, Query, ScoreKind
from rankwise.types import Request as RerankWork

log = logging.getLogger("rankwise.server")
CALIBRATED = ScoreKind.CALIBRATED_PROBABILITY.value
T = TypeVar("T")


@dataclass
class Scored:
    """What scoring a request's texts gave: raw scores in order, their kind, and the traces of the work
    units they were scored in (one per unit: the request whole, or its slices)."""

    scores: list[float]
    kind: ScoreKind
    traces: list[dict[str, Any]]
    calibration: Calibration | None = None

    @property
    def kind_label(self) -> str:
        """What `relevance_score` is: a calibrated probability, or the scores' kind they were mapped from."""
        return CALIBRATED if self.calibration is not None else self.kind.value

    def kept(self, min_relevance: float | None, coverage: float | None) -> list[int]:
        """The texts' indices best first, cut to the adaptive prefix for `coverage` (over the whole list) and
        to those at least `min_relevance` likely to be relevant (both need the calibration)."""
        order = sorted(range(len(self.scores)), key=lambda i: -self.scores[i])
        relevance = self.relevance
        if coverage is not None and self.calibration is not None:
            depth = self.calibration.cutoff_depth(coverage)
            order = [i for i, d in zip(order, depths_down([relevance[i] for i in order])) if d <= depth]
        if min_relevance is not None:
            order = [i for i in order if relevance[i] >= min_relevance]
        return order

    @functools.cached_property
    def relevance(self) -> list[float]:
        """Each text's relevance in [0, 1]: its calibrated probability, else its score mapped by kind."""
        if self.calibration is not None:
            return self.calibration.probabilities_in_order(self.scores)
        return self.kind.to_unit_interval(self.scores)


@dataclass
class Unit:
    """What the batcher queues: a request (or a slice of one) and the adapter it is scored under."""

    work: RerankWork
    adapter: str | None = None

    @property
    def pairs(self) -> int:
        return len(self.work.candidates)


def scored_units(model: LoadedModel, units: list[Unit]) -> list[ScoredRequest]:
    """One batch of a model's units, on the inference thread. Over a model with adapters, the units are scored
    in groups, one per adapter (the base alone included), each group's adapter switched on first; no weight
    moves, and units of one adapter still share their model calls."""
    reranker = model.reranker
    if reranker is None:
        raise ApiError(503, f"the model {model.name!r} is still loading")
    if reranker.adapters is None:
        return reranker.scored_requests([unit.work for unit in units])
    groups: dict[str | None, list[int]] = {}
    for position, unit in enumerate(units):
        groups.setdefault(unit.adapter, []).append(position)
    scored: dict[int, ScoredRequest] = {}
    for adapter, positions in groups.items():
        reranker.adapters.use_adapter(adapter)
        scored.update(zip(positions, reranker.scored_requests([units[p].work for p in positions])))
    return [scored[position] for position in range(len(units))]


async def scores_for(
    service: ServiceState,
    target: Target,
    request: Request,
    query: str,
    texts: list[str],
    field_name: str,
    docids: list[str] | None = None,
    first_stage_scores: list[float] | None = None,
    instruction: str | None = None,
    feedback: list[int] | None = None,
    latency_budget_ms: int | None = None,
) -> Scored:
    """The raw score of every text, in order, what kind of score they are, and the methods' traces. The
    candidates' docids are `docids` (the documents' own ids, which a forward index is keyed by) or their
    positions; `first_stage_scores` are the documents' own scores, for methods that read them. Runs inside
    `answered_in_time`, which stops it when the request's deadline passes or its client leaves."""
    reranker = target.ready_reranker(service)
    if instruction is not None and not reranker.takes_instruction:  # before batching: never fail a shared batch
        raise ApiError(422, reranker.no_instruction_slot(), ["instruction"])
    deadline = budget_deadline(reranker, latency_budget_ms, arrival(request))
    names = docids if docids is not None else [str(i) for i in range(len(texts))]
    marked = marked_feedback(reranker, feedback, names)
    scores = first_stage_scores if first_stage_scores is not None else [None] * len(texts)
    work_request = RerankWork(
        Query("request", query, instruction, marked),
        [Candidate(d, t, score=s) for d, t, s in zip(names, texts, scores)],
        deadline=deadline,
    )
    try:
        batcher = target.model.batcher
        units = [Unit(work, target.adapter) for work in work_units(reranker, work_request, batcher.chunk)]
        parts = await batcher.score(units)
    except Overloaded as e:
        raise ApiError(503, f"overloaded: {e}; retry later", headers=service.retry_after()) from None
    except InputError as e:  # bad input found below the server is the client's problem, not a model failure
        raise ApiError(422, str(e)) from None
    except (ApiError, Cancelled, asyncio.CancelledError):
        raise
    except Exception:
        log.exception("request %s: the model failed", request.state.request_id)
        raise ApiError(500, "the model failed while scoring this request") from None
    service.metrics.documents.labels(model=target.name).inc(len(texts))
    scored = Scored(
        [score for part in parts for score in part.scores],
        reranker.score_kind,
        [part.trace for part in parts],
        reranker.calibration,
    )
    if service.traffic is not None and service.traffic.wanted():
        record = traffic_record(
            request.url.path,
            target.name,
            query,
            instruction,
            texts,
            docids,
            scored.scores,
            scored.kind_label,
            asyncio.get_running_loop().time() - arrival(request),
        )
        await run_in_threadpool(service.traffic.write, record)
    return scored


def chosen_model(service: ServiceState, request: Request, name: str | None) -> Target:
    """The model or adapter the request's `model` field names (absent: the first served), remembered on the
    request for the metrics' model label; an unknown name is a 404 listing the served ones."""
    target = service.target(name)
    request.state.model = target.name
    return target


async def on_inference_thread(target: Target, request: Request, function: Callable[[], T]) -> T:
    """`function` (tokenizing, fitting texts to the model) on the inference thread, in turn with the model,
    under the request's cancellation: it does not start, or stops at its next check, once the request ends."""
    cancel: threading.Event = request.state.cancel

    def guarded() -> T:
        with cancellable(cancel):
            check_cancelled()
            return function()

    return await target.model.batcher.run(guarded)


async def answered_in_time(service: ServiceState, request: Request, work: Awaitable[Response]) -> Response:
    """`work`'s response, unless the request's deadline (counted from its headers, so queueing, tokenizing,
    scoring and serializing are all inside it) passes first (504), the client leaves (499, for the log), or
    the server stops (503). Then the work is cancelled: its queued pairs dropped, and the model and the
    tokenizer stop at their next check of `request.state.cancel` (`rankwise.cancellation`)."""
    request.state.cancel = threading.Event()
    task = asyncio.ensure_future(work)
    waiters: set[asyncio.Future] = {task}
    gone: asyncio.Event | None = getattr(request.state, "client_gone", None)
    gone_waiter = asyncio.ensure_future(gone.wait()) if gone is not None else None
    stop_waiter = asyncio.ensure_future(service.stopping.wait())
    waiters |= {w for w in (gone_waiter, stop_waiter) if w is not None}
    timeout = service.settings.request_timeout
    remaining = None if timeout is None else timeout - (asyncio.get_running_loop().time() - arrival(request))
    try:
        done, _ = await asyncio.wait(
            waiters, timeout=max(remaining, 0.0) if remaining is not None else None, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            return task.result()
        if gone_waiter is not None and gone_waiter in done:
            log.info("request %s: client disconnected, its remaining work dropped", request.state.request_id)
            raise ApiError(499, "client closed the request")
        if stop_waiter in done:
            raise ApiError(
                503,
                "the service stopped before this request was answered; retry it",
                headers={"Connection": "close", **service.retry_after()},
            )
        raise ApiError(504, f"not answered within the request timeout of {timeout:g} s")
    finally:
        request.state.cancel.set()  # harmless once answered; stops the work otherwise
        for waiter in waiters:
            if not waiter.done():
                waiter.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # let the cancellation reach the batcher before answering


def arrival(request: Request) -> float:
    """When the request's headers arrived (loop time, set by the guard), or now for a request built in-process."""
    return request.scope.get("state", {}).get("arrived", asyncio.get_running_loop().time())


def work_units(reranker: BaseReranker, request: RerankWork, chunk: int) -> list[RerankWork]:
    """The request whole, or cut into slices of at most `chunk` candidates when the method scores each
    candidate on its own (so slices can share batches with other requests without changing a score)."""
    if not reranker.independent_candidates or len(request.candidates) <= chunk:
        return [request]
    return [
        RerankWork(request.query, request.candidates[i : i + chunk]) for i in range(0, len(request.candidates), chunk)
    ]

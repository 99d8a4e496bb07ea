"""Cascades: stages that each rerank the top k of the previous stage's ranking (for example MaxSim over
100 candidates, then FIRST over its top 20), so an expensive method is paid only where it matters.

A stage after a calibrated one can also be paid only for the queries that need it (`escalation`): those
whose calibrated probabilities fall in its `escalate_when` band, and, when a request carries a deadline
(a latency budget), the most doubtful of them first, as many as the stage's measured cost per query
leaves time for. A query a stage skips keeps the order it had.

The final order is the last stage's over its head, then each earlier stage's order below the head it
passed on. The stages' scores are of different kinds and scales, so the cascade's score is ordinal
(n - position); each stage's own scores are kept in the trace (`stages`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.errors import InputError, OptionError
from rankwise.options import option, validate_options
from rankwise.rerankers.base import BaseReranker, shared_token_counter
from rankwise.rerankers.compose.escalation import DEFAULT_DEPTH, EscalateWhen, doubt
from rankwise.types import Candidate, Ranking, Request, ScoreKind

COST_MEMORY = 0.3  # the weight of the newest measurement in a stage's running cost per query
STAGE_OPTION_NAMES = ("escalate_when",)


@dataclass(frozen=True)
class StageOptions:
    """What a cascade stage takes beside its method's options (written among them in a spec:
    `first:MODEL{window_size=10,escalate_when=doubt@10:0.5..1}@20`)."""

    escalate_when: str | None = option(
        None,
        help="SIGNAL[@K]:LO..HI (top1, mass, doubt over the previous stage's calibrated top K): run this stage "
        "only for queries whose signal lies in the band",
    )

    @classmethod
    def taken_from(cls, options: dict[str, Any], where: str) -> tuple[EscalateWhen | None, dict[str, Any]]:
        """The stage's own options parsed out of a member's options, and the member's remaining options."""
        own = {k: options[k] for k in STAGE_OPTION_NAMES if k in options}
        checked = validate_options(cls, f"cascade stage {where!r}", own)
        rest = {k: v for k, v in options.items() if k not in own}
        return (EscalateWhen.parse(checked.escalate_when) if checked.escalate_when else None), rest


@dataclass
class Stage:
    reranker: BaseReranker
    top_k: int | None = None
    escalate_when: EscalateWhen | None = None
    seconds_per_query: float | None = None  # measured on the queries it ran for, for latency budgets


class CascadeReranker(BaseReranker):
    method = "cascade"
    score_kind = ScoreKind.ORDINAL

    def __init__(self, stages: Sequence[Stage | tuple[BaseReranker, int | None]], model_label: str):
        if not stages:
            raise InputError("a cascade needs at least one stage")
        super().__init__(model_label)
        self.stages = [s if isinstance(s, Stage) else Stage(*s) for s in stages]
        for number, stage in enumerate(self.stages):
            if stage.escalate_when is not None and (
                number == 0 or self.stages[number - 1].reranker.calibration is None
            ):
                raise OptionError(
                    f"stage {number + 1} ({stage.reranker.method}) has escalate_when={stage.escalate_when}, which "
                    "reads the calibrated probabilities of the stage before it: "
                    + (
                        "the first stage has none before it"
                        if number == 0
                        else f"give stage {number} a calibration ({{calibration=calib.json}}, "
                        "from `rankwise calibrate`)"
                    )
                )
        self.token_counter = shared_token_counter(s.reranker for s in self.stages)
        self.takes_budget = any(s.reranker.calibration is not None for s in self.stages[:-1])

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        orders: list[list[Candidate]] = [list(r.candidates) for r in requests]
        traces: list[list[dict[str, Any]]] = [[] for _ in requests]
        probabilities: list[list[float] | None] = [None] * len(requests)
        for number, stage in enumerate(self.stages):
            gated = number > 0 and self.stages[number - 1].reranker.calibration is not None
            if not gated:
                self._run(stage, requests, range(len(requests)), orders, traces, probabilities)
                continue
            self._escalate(stage, requests, orders, traces, probabilities)
        rankings = []
        for request, order, trace in zip(requests, orders, traces):
            position = {c.docid: i for i, c in enumerate(request.candidates)}
            n = len(order)
            rankings.append(
                Ranking.from_order(
                    request,
                    [position[c.docid] for c in order],
                    [float(n - i) for i in range(n)],
                    trace={"stages": trace},
                )
            )
        return rankings

    def _escalate(
        self,
        stage: Stage,
        requests: list[Request],
        orders: list[list[Candidate]],
        traces: list[list[dict[str, Any]]],
        probabilities: list[list[float] | None],
    ) -> None:
        """Run `stage` for the queries in its band; those with a deadline most doubtful first, while its
        measured cost per query fits the time left."""
        skipped: dict[int, str] = {}
        wanted = []
        for q, p in enumerate(probabilities):
            if p is None:
                skipped[q] = "no calibrated probabilities from an earlier stage"
            elif stage.escalate_when is not None and not stage.escalate_when.holds(p):
                skipped[q] = f"outside escalate_when {stage.escalate_when}"
            else:
                wanted.append(q)
        free = [q for q in wanted if requests[q].deadline is None]
        if free:
            self._run(stage, requests, free, orders, traces, probabilities)
        depth = stage.escalate_when.k if stage.escalate_when is not None else DEFAULT_DEPTH
        pending = sorted(
            (q for q in wanted if requests[q].deadline is not None), key=lambda q: -doubt(probabilities[q] or [], depth)
        )
        if pending and stage.seconds_per_query is None and (requests[pending[0]].deadline or 0.0) > time.monotonic():
            # Its cost not measured yet: the most doubtful query alone first, which measures it.
            self._run(stage, requests, pending[:1], orders, traces, probabilities)
            pending = pending[1:]
        if pending and stage.seconds_per_query is not None:
            now, cost = time.monotonic(), stage.seconds_per_query
            chunk: list[int] = []
            for q in pending:  # most doubtful first, while the batch's estimated time ends before each deadline
                if now + cost * (len(chunk) + 1) <= (requests[q].deadline or 0.0):
                    chunk.append(q)
            self._run(stage, requests, chunk, orders, traces, probabilities)
            pending = [q for q in pending if q not in chunk]
        for q in pending:
            skipped[q] = "over the latency budget"
        for q, why in sorted(skipped.items()):
            entry: dict[str, Any] = {
                "method": stage.reranker.method,
                "model": stage.reranker.model_label,
                "escalated": False,
                "why": why,
            }
            if probabilities[q] is not None:
                entry["doubt"] = doubt(probabilities[q] or [], depth)
                if stage.escalate_when is not None:
                    entry["signal"] = stage.escalate_when.value(probabilities[q] or [])
            traces[q].append(entry)

    def _run(
        self,
        stage: Stage,
        requests: list[Request],
        chosen: Sequence[int],
        orders: list[list[Candidate]],
        traces: list[list[dict[str, Any]]],
        probabilities: list[list[float] | None],
    ) -> None:
        """`stage` on the queries `chosen`: their heads reranked, their orders, traces and probabilities
        updated, and the stage's cost per query measured."""
        chosen = list(chosen)
        if not chosen:
            return
        top_k = stage.top_k
        heads = [Request(requests[q].query, orders[q][:top_k] if top_k else orders[q]) for q in chosen]
        start = time.monotonic()
        rankings = stage.reranker.rerank_batch(heads)
        seconds = (time.monotonic() - start) / len(chosen)
        previous = stage.seconds_per_query
        stage.seconds_per_query = seconds if previous is None else (1 - COST_MEMORY) * previous + COST_MEMORY * seconds
        for q, head_request, ranking in zip(chosen, heads, rankings):
            by_id = {c.docid: c for c in head_request.candidates}
            head = [by_id[result.docid] for result in ranking.results]
            orders[q] = head + orders[q][len(head) :]
            entry: dict[str, Any] = {
                "method": stage.reranker.method,
                "model": stage.reranker.model_label,
                "top_k": top_k,
                "score_kind": ranking.score_kind.value,
                "scores": {res.docid: res.score for res in ranking.results},
            }
            if probabilities[q] is not None and stage is not self.stages[0]:
                entry["escalated"] = True
                entry["doubt"] = doubt(probabilities[q] or [])
            traces[q].append(entry)
            if stage.reranker.calibration is not None:
                probabilities[q] = [res.probability or 0.0 for res in ranking.results]

    def reranked_count(self, candidates: int) -> int:
        first = self.stages[0]
        return first.reranker.reranked_count(min(candidates, first.top_k) if first.top_k else candidates)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "stages": [
                {
                    **s.reranker.describe(),
                    "top_k": s.top_k,
                    **({"escalate_when": str(s.escalate_when)} if s.escalate_when else {}),
                }
                for s in self.stages
            ],
        }

"""Sliding-window listwise reranking, shared by generation and FIRST decoding.

Windows move from the bottom of the top-k list to the top, so strong passages bubble up. A query's
windows are sequential (each sees the previous one's result); windows of different queries at the same
step are ranked together, so a backend can batch them into one forward pass."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rankwise.errors import OptionError
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Candidate, Ranking, Request, ScoreKind


def window_schedule(count: int, window: int, stride: int) -> list[tuple[int, int]]:
    """[start, end) of each window in processing order, exactly as rank_llm's sliding_windows computes
    them: from the bottom up, the last window clipped at 0, no window that would only repeat the top."""
    if window < 1 or stride < 1:
        raise OptionError(f"window ({window}) and stride ({stride}) must be >= 1")
    if stride > window:
        raise OptionError(f"stride ({stride}) larger than the window ({window}) would skip passages")
    schedule = []
    end, start = count, count - window
    while end > 0 and start + stride != 0:
        start = max(start, 0)
        schedule.append((start, end))
        end, start = end - stride, start - stride
    return schedule


@dataclass
class Window:
    """One window to rank: the query and the passages at positions [start, end) of the current order."""

    query: str
    passages: list[str]
    trace: dict[str, Any] = field(default_factory=dict)
    first_stage_scores: list[float | None] | None = None  # per passage, for prompts that show them (InsertRank)
    candidates: list[Candidate] = field(default_factory=list)  # the passages' candidates, for methods that need more


@dataclass
class WindowResult:
    order: list[int]  # positions within the window, best first
    scores: list[float] | None = None  # per position within the window, when the method has them
    trace: dict[str, Any] = field(default_factory=dict)


def slide(
    requests: list[Request],
    rank_windows: Callable[[list[Window]], list[WindowResult]],
    window: int,
    stride: int,
    top_k: int,
) -> list[Ranking]:
    """Each request's first `top_k` candidates reordered window by window (`window_schedule`), `rank_windows`
    ranking the windows of different queries at the same step together; scores fall with the final rank."""
    orders = [list(range(len(r.candidates))) for r in requests]
    heads = [min(len(r.candidates), top_k) for r in requests]
    # A window of one passage has nothing to order (it would only be prompted to repeat its one label):
    # it is skipped, which leaves every order as ranking it would.
    schedules = [[(s, e) for s, e in window_schedule(h, window, stride) if e - s > 1] for h in heads]
    traces: list[list[dict[str, Any]]] = [[] for _ in requests]
    for step in range(max((len(s) for s in schedules), default=0)):
        active = [q for q, s in enumerate(schedules) if step < len(s)]
        windows = []
        for q in active:
            start, end = schedules[q][step]
            shown = [requests[q].candidates[i] for i in orders[q][start:end]]
            windows.append(
                Window(
                    requests[q].query.text,
                    [c.text for c in shown],
                    first_stage_scores=[c.score for c in shown],
                    candidates=shown,
                )
            )
        for q, shown_window, result in zip(active, windows, rank_windows(windows)):
            start, end = schedules[q][step]
            current = orders[q][start:end]
            orders[q][start:end] = [current[i] for i in result.order]
            entry = {
                "start": start,
                "end": end,
                "docids": [requests[q].candidates[i].docid for i in current],
                **shown_window.trace,
                **result.trace,
            }
            if result.scores is not None:
                entry["scores"] = result.scores
            traces[q].append(entry)
    rankings = []
    for request, order, trace in zip(requests, orders, traces):
        # Scores fall with rank so that tools that sort by score (trec_eval, ir-measures) agree with the order.
        n = len(order)
        rankings.append(
            Ranking.from_order(
                request, order, [float(n - r) for r in range(n)], trace={"windows": trace, "llm_calls": len(trace)}
            )
        )
    return rankings


class SlidingWindowReranker(BaseReranker):
    top_k: int  # always set: these methods reorder only their first top_k candidates

    score_kind = ScoreKind.ORDINAL  # count - rank

    def __init__(self, model_label: str, window: int = 20, stride: int = 10, top_k: int = 100):
        super().__init__(model_label)
        window_schedule(window, window, stride)  # validates
        self.window, self.stride, self.top_k = window, stride, top_k

    @abstractmethod
    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        """Rank several independent windows (of different queries); batch them if the backend can."""

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        return slide(requests, self.rank_windows, self.window, self.stride, self.top_k)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "window": self.window, "stride": self.stride, "top_k": self.top_k}

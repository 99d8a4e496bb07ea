"""Micro-batching with fair scheduling: concurrent requests' work units are scored together, up to a
maximum weight per batch and a maximum wait, on one worker thread off the event loop.

A unit's weight is the number of (query, passage) pairs it holds. A request's units are grouped into
chunks of at most `max_batch // 4` weight (a unit heavier than that is a chunk alone), and a batch takes one
chunk from each waiting request in turn (up to `max_batch`, or one heavy chunk alone). A 2-document
request that arrives while a 1,000-document one is being scored waits for one chunk of it, then rides in
the very next batch, instead of waiting for all of the big one. A request whose caller gives up (client
gone, deadline passed: its `score` call is cancelled) leaves the queue at once; only a batch already on
the model runs to its end. A full queue refuses new work at once."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rankwise.cancellation import Cancelled, cancellable


def inference_thread() -> ThreadPoolExecutor:
    """The one thread model work runs on (a tokenizer is not safe to call from two threads; two models on two
    threads would only fight over the cores)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="rankwise-infer")


class Overloaded(Exception):
    """The queue holds as many pairs as allowed; the caller should retry later."""


@dataclass
class _Job:
    items: list[Any]
    weight: int
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(
        self,
        score: Callable[[list[Any]], Sequence[Any]],
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
        max_queued: int = 20000,
        on_batch: Callable[[int], None] | None = None,
        weight: Callable[[Any], int] = lambda item: 1,
        executor: ThreadPoolExecutor | None = None,
    ):
        """`score` maps a list of units to one result per unit; `weight(unit)` is its size in pairs. Batchers
        given one `executor` (a single thread) take turns on it; its owner shuts it down."""
        if max_batch < 1 or max_queued < 1:
            raise ValueError("max_batch and max_queued must be >= 1")
        self._score = score
        self.max_batch = max_batch
        self.chunk = max(1, max_batch // 4)
        self.max_wait = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self._on_batch = on_batch
        self._weight = weight
        self._pending: OrderedDict[int, deque[_Job]] = OrderedDict()  # request -> its unscored chunks
        self._arrived: asyncio.Event | None = None
        self._owners = itertools.count()
        self._owns_executor = executor is None
        self._executor = executor or inference_thread()
        self._worker: asyncio.Task | None = None
        self.queued = 0  # weight waiting or being scored
        self.pairs_per_second: float | None = None  # measured over recent batches (exponential average)

    def attach(self, executor: ThreadPoolExecutor) -> None:
        """Share `executor` from now on (the application's next lifespan, after the last one shut its own)."""
        self._executor, self._owns_executor = executor, False

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._owns_executor:
            self._executor.shutdown(wait=True)

    def seconds_to_drain(self, at_least: int = 1) -> int:
        """How long the queued work should take at the measured rate, in whole seconds within [at_least, 60]."""
        if not self.queued or not self.pairs_per_second:
            return at_least
        return int(min(60, max(at_least, math.ceil(self.queued / self.pairs_per_second))))

    def _measured(self, pairs: int, seconds: float) -> None:
        if pairs and seconds > 0:
            rate = pairs / seconds
            self.pairs_per_second = rate if self.pairs_per_second is None else 0.8 * self.pairs_per_second + 0.2 * rate

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run other model work (a listwise request) on the same inference thread, in turn."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def score(self, items: list[Any]) -> list[Any]:
        """One result per unit, in order."""
        if not items:
            return []
        total = sum(self._weight(item) for item in items)
        if self.queued + total > self.max_queued:
            raise Overloaded(f"{self.queued} pairs queued; limit {self.max_queued}")
        loop = asyncio.get_running_loop()
        jobs = [_Job(chunk, weight, loop.create_future()) for chunk, weight in self._chunks(items)]
        owner = next(self._owners)
        self._pending[owner] = deque(jobs)
        self.queued += total
        self._arrived.set()
        try:
            parts = await asyncio.gather(*(job.future for job in jobs))
        finally:  # cancelled or failed: what was not scored yet is dropped, not run for nobody
            self._pending.pop(owner, None)
            self.queued -= total
        return [result for part in parts for result in part]

    def _chunks(self, items: list[Any]) -> list[tuple[list[Any], int]]:
        chunks: list[tuple[list[Any], int]] = []
        current: list[Any] = []
        weight = 0
        for item in items:
            w = self._weight(item)
            if current and weight + w > self.chunk:
                chunks.append((current, weight))
                current, weight = [], 0
            current.append(item)
            weight += w
        chunks.append((current, weight))
        return chunks

    def _pending_weight(self) -> int:
        return sum(job.weight for jobs in self._pending.values() for job in jobs)

    def _take_batch(self) -> list[_Job]:
        """One round: at most one chunk from each waiting request, in rotation, while the batch has room.
        A lone large request is therefore scored a chunk at a time, so whoever arrives next waits for one
        chunk, not for a full batch of someone else's pairs."""
        batch: list[_Job] = []
        size = 0
        for owner in list(self._pending):
            jobs = self._pending[owner]
            while jobs and jobs[0].future.done():
                jobs.popleft()
            if not jobs:
                del self._pending[owner]
                continue
            if batch and size + jobs[0].weight > self.max_batch:
                break
            job = jobs.popleft()
            batch.append(job)
            size += job.weight
            if jobs:
                self._pending.move_to_end(owner)  # the next batch starts with the next request
            else:
                del self._pending[owner]
        return batch

    async def _next_batch(self) -> list[_Job]:
        while True:
            if not self._pending:
                self._arrived.clear()
                await self._arrived.wait()
                if self._pending_weight() < self.max_batch:  # a lone small request: wait briefly for company
                    await asyncio.sleep(self.max_wait)
            batch = self._take_batch()
            if batch:
                return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            items = [item for job in batch for item in job.items]
            if self._on_batch:
                self._on_batch(sum(job.weight for job in batch))
            started = loop.time()
            try:
                scores = await self._score_while_awaited(loop, batch, items)
                self._measured(sum(job.weight for job in batch), loop.time() - started)
            except Cancelled:  # every request of the batch is gone: nothing to answer
                continue
            except Exception as e:
                if len(batch) == 1:
                    _settle(batch[0], error=e)
                    continue
                # One request's bad input must not fail the others it shared the batch with: score each
                # alone, so only the culprit gets the error.
                for job in batch:
                    try:
                        _settle(job, await loop.run_in_executor(self._executor, self._score, job.items))
                    except Exception as alone:
                        _settle(job, error=alone)
                continue
            offset = 0
            for job in batch:
                _settle(job, scores[offset : offset + len(job.items)])
                offset += len(job.items)

    async def _score_while_awaited(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Job], items: list[Any]
    ) -> Sequence[Any]:
        """The batch's scores, computed on the inference thread under a cancellation event that is set once
        every job's future is done (its client gone or its deadline passed): the model stops at its next call
        (`rankwise.cancellation`) instead of finishing a long listwise or reasoning loop for nobody."""
        event = threading.Event()

        def run() -> Sequence[Any]:
            with cancellable(event):
                return self._score(items)

        work = loop.run_in_executor(self._executor, run)
        # Read its outcome even when this wait is itself cancelled (the server stopping), so a batch that ends
        # in `Cancelled` afterwards is not reported as an exception nobody retrieved.
        work.add_done_callback(lambda future: future.cancelled() or future.exception())
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=CANCEL_POLL_SECONDS)
                if done:
                    return work.result()
                if all(job.future.done() for job in batch):
                    event.set()
        finally:
            # This wait itself cancelled (the server stopping, `stop`) before the poll above saw the jobs end:
            # stop the model too, or the executor's shutdown waits for a long listwise loop to finish for nobody.
            if not work.done():
                event.set()


CANCEL_POLL_SECONDS = 0.1  # how often a running batch looks whether anyone still waits for it


def _settle(job: _Job, scores: Sequence[Any] | None = None, error: Exception | None = None) -> None:
    if job.future.done():  # the client went away
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(list(scores))

"""Micro-batching: concurrent requests' (query, passage) pairs are queued and scored together, up to a
maximum number of pairs per batch and a maximum wait, on one worker thread off the event loop. A request
larger than a batch is split across batches rather than refused; a full queue refuses new work at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


class Overloaded(Exception):
    """The queue holds as many pairs as allowed; the caller should retry later."""


@dataclass
class _Job:
    items: list[Any]
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    def __init__(self, score: Callable[[list[Any]], Sequence[float]], max_batch: int = 64, max_wait_ms: float = 5.0,
                 max_queued: int = 20000, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_queued < 1:
            raise ValueError("max_batch and max_queued must be >= 1")
        self._score = score
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Job] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rankwise-infer")
        self._worker: asyncio.Task | None = None
        self._carry: _Job | None = None
        self.queued = 0  # pairs waiting or being scored

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def run(self, function: Callable[[], Any]) -> Any:
        """Run other model work (a listwise request) on the same inference thread, in turn."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function)

    async def score(self, items: list[Any]) -> list[float]:
        if not items:
            return []
        if self.queued + len(items) > self.max_queued:
            raise Overloaded(f"{self.queued} pairs queued; limit {self.max_queued}")
        loop = asyncio.get_running_loop()
        jobs = [_Job(items[i:i + self.max_batch], loop.create_future()) for i in range(0, len(items), self.max_batch)]
        self.queued += len(items)
        try:
            for job in jobs:
                self._queue.put_nowait(job)
            parts = await asyncio.gather(*(job.future for job in jobs))
        finally:
            self.queued -= len(items)
        return [score for part in parts for score in part]

    async def _next_batch(self) -> list[_Job]:
        first = self._carry or await self._queue.get()
        self._carry = None
        batch, size = [first], len(first.items)
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                job = self._queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(self._queue.get(), remaining)
            except (asyncio.TimeoutError, asyncio.QueueEmpty):
                break
            if size + len(job.items) > self.max_batch:
                self._carry = job
                break
            batch.append(job)
            size += len(job.items)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            items = [item for job in batch for item in job.items]
            if self._on_batch:
                self._on_batch(len(items))
            try:
                scores = await loop.run_in_executor(self._executor, self._score, items)
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
                _settle(job, scores[offset:offset + len(job.items)])
                offset += len(job.items)


def _settle(job: _Job, scores: Sequence[float] | None = None, error: Exception | None = None) -> None:
    if job.future.done():  # the client went away
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(list(scores))

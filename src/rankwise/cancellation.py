"""Cooperative cancellation of model work running on another thread. The server's batcher runs each batch
under an event it sets once nobody waits for the batch any more (the clients gone, their deadlines passed);
the backends check it before every model call, so a listwise or reasoning loop stops at its next step instead
of running on for nobody."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

_current = threading.local()
T = TypeVar("T")
R = TypeVar("R")


class Cancelled(Exception):
    """The work was cancelled: nobody is waiting for its result."""


@contextmanager
def cancellable(event: threading.Event) -> Iterator[None]:
    """Model calls made on this thread inside the block stop with `Cancelled` once `event` is set."""
    previous = getattr(_current, "event", None)
    _current.event = event
    try:
        yield
    finally:
        _current.event = previous


def check_cancelled() -> None:
    event = getattr(_current, "event", None)
    if event is not None and event.is_set():
        raise Cancelled("nobody waits for this work any more")


def carried(function: Callable[[T], R]) -> Callable[[T], R]:
    """`function` for another thread (a pool of HTTP calls) under this thread's cancellation: each call checks
    it before it starts and while it runs."""
    event = getattr(_current, "event", None)

    def run(item: T) -> R:
        if event is None:
            return function(item)
        with cancellable(event):
            check_cancelled()
            return function(item)

    return run

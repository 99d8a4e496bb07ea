"""Cooperative cancellation of model work running on another thread. The server's batcher runs each batch
under an event it sets once nobody waits for the batch any more (the clients gone, their deadlines passed);
the backends check it before every model call, so a listwise or reasoning loop stops at its next step instead
of running on for nobody."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_current = threading.local()


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

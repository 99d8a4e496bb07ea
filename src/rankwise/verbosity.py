"""Quiet by default: the libraries rankwise drives (transformers' "Loading weights" progress bar and its
load report) print into a library user's stderr only when asked, with `rankwise --verbose` or
RANKWISE_VERBOSE=1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_VARIABLE = "RANKWISE_VERBOSE"


def verbose() -> bool:
    return os.environ.get(VERBOSE_VARIABLE, "").lower() in ("1", "true", "yes", "on")


def set_verbose(on: bool) -> None:
    os.environ[VERBOSE_VARIABLE] = "1" if on else "0"


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Inside: transformers logs errors only and shows no progress bar, unless verbose; restored after."""
    if verbose():
        yield
        return
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()

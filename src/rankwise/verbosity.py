"""Quiet by default: the libraries rankwise drives (transformers' "Loading weights" progress bar and its
load report, the hub's download bars) print into a library user's stderr only when asked, with
`rankwise --verbose` or RANKWISE_VERBOSE=1. The one place that decides it (the CLI no longer sets
HF_HUB_DISABLE_PROGRESS_BARS for the whole process)."""

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
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hub_bars = not are_progress_bars_disabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    disable_progress_bars()  # downloads from the hub, for a user with a network
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        if hub_bars:
            enable_progress_bars()

"""The on-disk cache for assembled and dequantized weights."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$RANKWISE_CACHE`, else `$XDG_CACHE_HOME/rankwise`, else `~/.cache/rankwise`."""
    explicit = os.environ.get("RANKWISE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rankwise"

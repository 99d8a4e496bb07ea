"""Run provenance: a small JSON file beside each run (`run.trec.meta.json`) saying what produced it
and at what cost, so evaluation can label runs and plot effectiveness against cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankwise.version import installed_version

SUFFIX = ".meta.json"


def sidecar_path(run_path: str | Path) -> Path:
    return Path(str(run_path) + SUFFIX)


def write_sidecar(run_path: str | Path, metadata: dict[str, Any]) -> Path:
    path = sidecar_path(run_path)
    path.write_text(json.dumps({"rankwise_version": installed_version(), **metadata}, indent=2, sort_keys=True))
    return path


def read_sidecar(run_path: str | Path) -> dict[str, Any]:
    """The run's metadata, or {} when there is none or it is unreadable (a sidecar is optional)."""
    path = sidecar_path(run_path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}

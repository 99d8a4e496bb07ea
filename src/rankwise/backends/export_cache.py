"""Converted model variants (an ONNX graph, an OpenVINO IR, fp32 or int8) cached per weights.

A variant lives in `<cache>/<kind>/<key>/`, the key derived from the recipe's version, the weights'
location, and the size and modification time of every file of the weights folder and of the adapter
folder, so a changed model is converted again. It is built in a scratch folder beside it and moved into
place in one rename: a crash mid-export leaves no half-written variant in use, and two processes
building the same variant at once both end with a whole one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rankwise.models.cache import cache_dir
from rankwise.models.resolve import ModelLocation


def weights_key(location: ModelLocation, *recipe: Any) -> str:
    parts: list[Any] = [*recipe, location.path]
    for source in filter(None, (location.path, location.adapter)):
        folder = Path(source)
        if folder.is_dir():
            parts.append(source)
            parts += sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir() if p.is_file())
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def cached_variant(
    kind: str,
    key: str,
    filename: str,
    build: Callable[[Path, Path], None],
    about: dict[str, Any],
    cache: Path | None = None,
) -> Path:
    """`<cache>/<kind>/<key>/<filename>`, calling `build(scratch, staged)` to write the variant's files
    into `staged` (using `scratch` for intermediate files) when it is not there yet. `about` is written
    beside it as export.json."""
    folder = (cache or cache_dir()) / kind / key
    final = folder / filename
    if final.is_file():
        return final
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
    try:
        staged = work / "final"
        staged.mkdir()
        build(work, staged)
        (staged / "export.json").write_text(json.dumps(about) + "\n")
        try:
            os.replace(staged, folder)  # atomic: another process may have finished the same export first
        except OSError:
            if not final.is_file():
                raise
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)

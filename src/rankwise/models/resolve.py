"""Turn what a user typed (a registered name, a local path, a Hugging Face id) into something
`from_pretrained` can load, preferring local weights so nothing is downloaded when it need not be."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rankwise.errors import ModelNotAvailableError
from rankwise.models.cache import cache_dir
from rankwise.models.registry import ModelSpec, get_model_spec
from rankwise.models.sources import PackagedGGUF, SplitGGUF, TrainedAdapter, dequantize_gguf


@dataclass(frozen=True)
class ModelLocation:
    """`path` is a local directory or a Hugging Face id; `spec` is set for registered models; `adapter` is a
    LoRA adapter folder to merge into the weights at `path` (registered adapter models)."""

    path: str
    spec: ModelSpec | None = None
    adapter: str | None = None

    @property
    def is_local(self) -> bool:
        return Path(self.path).is_dir()

    @property
    def label(self) -> str:
        return self.spec.name if self.spec else self.path

    def read_json(self, filename: str) -> dict | None:
        """A small JSON file next to the weights (sentence-transformers metadata), or None when absent."""
        if self.is_local:
            candidate = Path(self.path) / filename
            return json.loads(candidate.read_text()) if candidate.is_file() else None
        return _hub_json(self.path, filename)


@functools.lru_cache(maxsize=512)
def _hub_json(repo: str, filename: str) -> dict | None:
    """A hub checkpoint's small JSON file: from the Hugging Face cache when it is there (or known absent), from
    the hub only when online. Loading probes several such files (config, adapter, ColBERT markers); each probe
    of an unreachable hub would otherwise wait out its own timeouts."""
    try:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        cached = try_to_load_from_cache(repo, filename)
        if isinstance(cached, str):
            return json.loads(Path(cached).read_text())
        if cached is not None or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            return None  # known not to exist upstream, or offline: no request
        return json.loads(Path(hf_hub_download(repo, filename)).read_text())
    except Exception:
        return None


def resolve_gguf(name_or_path: str, cache: Path | None = None) -> ModelLocation:
    """A location whose `path` is a GGUF file, for backends that run GGUF weights as they are: a registered
    model whose offline weights are GGUF, or a .gguf path. Nothing is dequantized."""
    cache = cache or cache_dir()
    spec = get_model_spec(name_or_path)
    if spec is not None:
        if not isinstance(spec.local, (PackagedGGUF, SplitGGUF)):
            raise ModelNotAvailableError(
                f"model {spec.name!r} has no GGUF weights; this backend runs GGUF files "
                "(registered GGUF models or a path to a .gguf file)"
            )
        return ModelLocation(path=str(spec.local.gguf_file(cache)), spec=spec)
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelLocation(path=str(path))
    raise ModelNotAvailableError(f"{name_or_path}: this backend needs a .gguf file or a registered GGUF model")


def resolve_model(name_or_path: str, cache: Path | None = None) -> ModelLocation:
    cache = cache or cache_dir()
    spec = get_model_spec(name_or_path)
    if spec is not None and isinstance(spec.local, TrainedAdapter):
        adapter = spec.local.resolve(cache)
        base = resolve_model(spec.local.base, cache)
        return ModelLocation(path=base.path, spec=spec, adapter=str(adapter))
    if spec is not None:
        if spec.local is not None and spec.local.available():
            return ModelLocation(path=str(spec.local.resolve(cache)), spec=spec)
        if spec.hf_id is None:  # no online copy: the source's error says how to get it back
            spec.local.resolve(cache)
        return ModelLocation(path=spec.hf_id, spec=spec)
    path = Path(name_or_path).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        stat = path.stat()
        key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        return ModelLocation(path=str(dequantize_gguf(path, cache / "models" / f"{path.stem}-{key}", None)))
    if path.is_dir():
        return ModelLocation(path=str(path))
    if path.exists() or name_or_path.startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"{name_or_path}: not a model directory or .gguf file")
    if name_or_path.count("/") != 1:
        from rankwise.models.registry import MODELS

        raise ModelNotAvailableError(
            f"unknown model {name_or_path!r}: not a registered name ({', '.join(MODELS)}), "
            "a local directory, or a Hugging Face id of the form owner/name"
        )
    return ModelLocation(path=name_or_path)

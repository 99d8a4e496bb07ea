"""The backend an encoder or cross-encoder gets by default: the fastest on this CPU at equal scores.

Which of transformers, ONNX Runtime and OpenVINO (all fp32) runs a model fastest depends on the CPU (AVX2
only, AVX-512, AMX), the thread count and the model, and it changed between this project's own machines;
so it is measured, not fixed. `measure` runs the same texts through every installed candidate, keeps those
whose scores equal the transformers backend's (within `EQUAL` of the scores' scale), and records the
fastest of them for (weights, kind of work, CPU, threads) in one JSON file in the rankwise cache.

A model opened with no backend named uses the recorded choice when there is one, and transformers
otherwise (a first load never starts a conversion unasked); `backend=auto` measures when nothing is
recorded yet, and `rankwise backends --measure MODEL` measures on request. int8 variants change the scores
and are never chosen by default: they are named (`quantize=int8`)."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rankwise.backends.interface import Capability
from rankwise.backends.options import RuntimeOptions
from rankwise.errors import OptionError
from rankwise.models.cache import cache_dir
from rankwise.models.resolve import ModelLocation

AUTO = "auto"
CANDIDATES = ("transformers", "onnx", "openvino")
ENCODER_WORK = frozenset({Capability.EMBED, Capability.TOKEN_EMBED, Capability.SCORE_PAIRS})
EQUAL = 1e-4  # the largest difference from the transformers backend's outputs, over their scale, still equal
REPEATS = 3  # timed passes per backend; the fastest counts (the others met the machine's noise)
COPIES = 4  # the built-in texts, repeated, make one pass (128 texts)


@dataclass(frozen=True)
class Measurement:
    backend: str
    docs_per_second: float | None  # None: not measured (see `note`)
    max_diff: float | None  # against the transformers backend, over the scale of its outputs
    note: str = ""

    @property
    def equal(self) -> bool:
        return self.max_diff is not None and self.max_diff <= EQUAL


@dataclass(frozen=True)
class Choice:
    backend: str
    work: str  # "embed", "embed+tokens" or "score-pairs"
    cpu: str
    threads: int | None
    measurements: tuple[Measurement, ...]


def choices_path() -> Path:
    """`$RANKWISE_BACKEND_CHOICES`, else `backend_choices.json` in the rankwise cache."""
    explicit = os.environ.get("RANKWISE_BACKEND_CHOICES")
    return Path(explicit).expanduser() if explicit else cache_dir() / "backend_choices.json"


def cpu_signature() -> str:
    """The CPU's model name and the instruction sets that decide which kernels run."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                name = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    isa = sorted(f for f in flags if f.startswith(("avx", "amx")) or f in {"fma", "f16c"})
    return f"{name} [{' '.join(isa)}] x{os.cpu_count()}"


def work_kind(needs: frozenset[Capability]) -> str | None:
    """What the method asks of the encoder, or None when it needs more than an encoder backend offers."""
    if not needs or not needs <= ENCODER_WORK:
        return None
    if Capability.SCORE_PAIRS in needs:
        return None if needs & {Capability.EMBED, Capability.TOKEN_EMBED} else "score-pairs"
    return "embed+tokens" if Capability.TOKEN_EMBED in needs else "embed"


def _key(location: ModelLocation, work: str, threads: int | None) -> str:
    from rankwise.backends.export_cache import weights_key

    return weights_key(location, "backend-choice", work, cpu_signature(), threads)


def _read() -> dict[str, Any]:
    path = choices_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise OptionError(f"{path} is not a backend choices file ({e}); delete it to measure again") from None


def _write(key: str, choice: Choice) -> None:
    """Add one choice, replacing the file in one rename (two processes measuring at once keep one each)."""
    path = choices_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    choices = _read()
    choices[key] = {**asdict(choice), "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".choices-", suffix=".tmp", delete=False) as out:
        out.write(json.dumps(choices, indent=1) + "\n")
    os.replace(out.name, path)


def recorded(location: ModelLocation, needs: frozenset[Capability], threads: int | None) -> Choice | None:
    work = work_kind(needs)
    entry = _read().get(_key(location, work, threads)) if work else None
    if entry is None:
        return None
    measurements = tuple(Measurement(**m) for m in entry["measurements"])
    return Choice(entry["backend"], entry["work"], entry["cpu"], entry["threads"], measurements)


def _outputs(backend: Any, work: str, texts: Sequence[str]) -> np.ndarray:
    if work == "score-pairs":
        return np.asarray(backend.score([texts[0]] * len(texts), list(texts)), dtype=np.float64)
    if work == "embed+tokens":
        pooled, tokens = backend.embed_with_tokens(list(texts))
        return np.concatenate([np.asarray(pooled).ravel(), *(np.asarray(t).ravel() for t in tokens)])
    return np.asarray(backend.embed_unit(list(texts)), dtype=np.float64).ravel()


def measure(
    location: ModelLocation,
    needs: frozenset[Capability],
    threads: int | None = None,
    candidates: Sequence[str] = CANDIDATES,
    texts: Sequence[str] | None = None,
) -> Choice:
    """Run every installed candidate on the same texts (after one untimed pass, which also converts and
    caches the ONNX graph or OpenVINO model), record the fastest whose outputs equal the transformers
    backend's, and return it with every measurement."""
    from rankwise.backends.openvino import calibration_texts
    from rankwise.backends.registry import backend_entry

    work = work_kind(needs)
    if work is None:
        raise OptionError(
            f"backend={AUTO} chooses among encoder backends ({', '.join(CANDIDATES)}); this method needs "
            f"{', '.join(sorted(c.value for c in needs))}: name its backend"
        )
    texts = list(texts or calibration_texts(None) * COPIES)
    reference: np.ndarray | None = None
    measurements = []
    for name in ["transformers", *(c for c in candidates if c != "transformers")]:
        entry = backend_entry(name)
        missing = entry.missing_modules()
        if missing:
            measurements.append(Measurement(name, None, None, f"not installed ({entry.install_hint})"))
            continue
        backend = entry.load_factory()(location, entry.options(backend=name, threads=threads), needs)
        outputs = _outputs(backend, work, texts)
        if reference is None:
            reference = outputs
        diff = float(np.max(np.abs(outputs - reference)) / max(1.0, float(np.max(np.abs(reference)))))
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            _outputs(backend, work, texts)
            best = min(best, time.perf_counter() - start)
        measurements.append(Measurement(name, len(texts) / best, diff))
        del backend
    equal = [m for m in measurements if m.equal and m.docs_per_second]
    fastest = max(equal, key=lambda m: m.docs_per_second or 0.0)
    choice = Choice(fastest.backend, work, cpu_signature(), threads, tuple(measurements))
    _write(_key(location, work, threads), choice)
    return choice


def resolve(location: ModelLocation, runtime: RuntimeOptions, needs: frozenset[Capability]) -> RuntimeOptions:
    """The runtime options a model opens with: unchanged when a backend is named; the recorded choice for
    an encoder with none named (transformers when none is recorded, or when an option given only applies
    to it); with `backend=auto`, measured first when nothing is recorded."""
    from rankwise.backends.registry import DEFAULT_BACKEND, backend_entry

    if runtime.backend not in (None, AUTO):
        return runtime
    given = {k: v for k, v in runtime.overrides().items() if k != "backend"}
    default = backend_entry(DEFAULT_BACKEND)
    choice = recorded(location, needs, runtime.threads) if work_kind(needs) else None
    if choice is None and runtime.backend == AUTO:
        choice = measure(location, needs, runtime.threads) if work_kind(needs) else None
    entry = backend_entry(choice.backend) if choice else default
    if set(given) - entry.option_names():
        entry = default
    if entry is default and runtime.backend is None:
        return runtime
    return entry.options(**given, backend=entry.name)

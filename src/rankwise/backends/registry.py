"""Backend registry: each backend declares the capabilities it offers and what to install for it (as
ir_measures' providers declare measures), and is imported only when a method opens it.

`open_backend` is the one place that turns (model, runtime options, capabilities a method needs) into a
backend object; a method whose needs the chosen backend lacks is refused at load, with an error naming
the capability and the backends that have it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability
from rankwise.backends.runtime import RuntimeOptions
from rankwise.errors import ModelNotAvailableError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation, resolve_gguf, resolve_model

DEFAULT_BACKEND = "transformers"


@dataclass(frozen=True)
class BackendEntry:
    name: str
    factory: str  # "module:function(location, runtime, needs) -> backend object"
    capabilities: frozenset[Capability]
    requires_modules: tuple[str, ...]
    install_hint: str
    description: str
    weights: str = "transformers"  # what it loads: a transformers folder / HF id, or "gguf" (a GGUF file)

    def missing_modules(self) -> list[str]:
        return [m for m in self.requires_modules if importlib.util.find_spec(m) is None]

    def load_factory(self) -> Callable[..., Any]:
        module_name, function_name = self.factory.split(":")
        return getattr(importlib.import_module(module_name), function_name)


BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in [
        BackendEntry(
            name="transformers",
            factory="rankwise.backends.transformers_backend:open_transformers",
            capabilities=frozenset({
                Capability.EMBED, Capability.TOKEN_EMBED, Capability.SCORE_PAIRS, Capability.TOKENIZE, Capability.NEXT_TOKEN_LOGPROBS,
                Capability.BRIDGED_FIRST_TOKEN, Capability.CONTINUATION_LOGPROBS, Capability.GENERATE,
                Capability.ATTENTION,
            }),
            requires_modules=("torch", "transformers"),
            install_hint="pip install torch==2.13.0 transformers (CPU wheel pinned), or pip install rankwise",
            description="PyTorch + Hugging Face transformers: encoders, cross-encoders and causal LMs",
        ),
        BackendEntry(
            name="onnx",
            factory="rankwise.backends.onnx_runtime:open_onnx",
            capabilities=frozenset({Capability.EMBED, Capability.TOKEN_EMBED, Capability.SCORE_PAIRS}),
            requires_modules=("onnxruntime", "onnx", "torch", "transformers"),
            install_hint="pip install 'rankwise[onnx]'",
            description="ONNX Runtime on CPU for encoders and cross-encoders: exported once, fused, "
                        "optionally int8 (quantize=int8); cached in the rankwise cache",
        ),
        BackendEntry(
            name="openai",
            factory="rankwise.backends.openai_compatible:OpenAICompatibleLM",
            capabilities=frozenset({
                Capability.TOKENIZE, Capability.NEXT_TOKEN_LOGPROBS, Capability.BRIDGED_FIRST_TOKEN,
                Capability.GENERATE,
            }),
            requires_modules=("httpx", "transformers"),
            install_hint="pip install httpx transformers",
            description="an OpenAI-compatible server (/v1/completions; base_url=, api_key=): generation, and "
                        "next-token log-probs exact only within the server's top_logprobs",
        ),
        BackendEntry(
            name="llama.cpp",
            factory="rankwise.backends.llama_cpp:LlamaCppLM",
            capabilities=frozenset({
                Capability.TOKENIZE, Capability.NEXT_TOKEN_LOGPROBS, Capability.BRIDGED_FIRST_TOKEN,
                Capability.CONTINUATION_LOGPROBS, Capability.GENERATE,
            }),
            requires_modules=("llama_cpp", "jinja2"),
            install_hint="pip install 'rankwise[llama-cpp]' (builds llama.cpp once, several minutes on 2 cores)",
            description="llama-cpp-python on the GGUF files as shipped (quantized; no dequantization)",
            weights="gguf",
        ),
    ]
}


def locate(model: str, backend: str | None) -> ModelLocation:
    """Resolve a model name or path into what the chosen backend loads."""
    if backend_entry(backend).weights == "gguf":
        return resolve_gguf(model)
    return resolve_model(model)


def backends_with(capability: Capability) -> list[str]:
    return [name for name, entry in BACKENDS.items() if capability in entry.capabilities]


def backend_entry(name: str | None) -> BackendEntry:
    chosen = name or DEFAULT_BACKEND
    if chosen not in BACKENDS:
        raise UnsupportedMethodError(f"unknown backend {chosen!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[chosen]


def check_capabilities(entry: BackendEntry, needs: frozenset[Capability], method: str) -> None:
    """Refuse a method whose needs the backend lacks, naming what is missing and who has it."""
    for capability in sorted(needs - entry.capabilities, key=lambda c: c.value):
        others = [name for name in backends_with(capability) if name != entry.name]
        where = f"backends with it: {', '.join(others)}" if others else "no registered backend has it yet"
        raise UnsupportedMethodError(
            f"method {method!r} needs capability {capability.value!r}, which backend {entry.name!r} "
            f"does not offer; {where}")


def open_backend(location: ModelLocation, runtime: RuntimeOptions, needs: frozenset[Capability],
                 method: str) -> Any:
    """A backend object for the model that offers every capability in `needs`."""
    entry = backend_entry(runtime.backend)
    check_capabilities(entry, needs, method)
    missing = entry.missing_modules()
    if missing:
        raise ModelNotAvailableError(
            f"backend {entry.name!r} needs {', '.join(missing)}, which is not installed: {entry.install_hint}")
    backend = entry.load_factory()(location, runtime, needs)
    lacking = needs - backend.capabilities
    if lacking:
        # The entry promises more than this model offers (e.g. embeddings from a GGUF chat model).
        names = ", ".join(sorted(c.value for c in lacking))
        raise UnsupportedMethodError(f"backend {entry.name!r} cannot offer {names} for model "
                                     f"{location.label!r}, which method {method!r} needs")
    return backend

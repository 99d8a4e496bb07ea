"""Backend registry: each backend declares the capabilities it offers and what to install for it (as
ir_measures' providers declare measures), and is imported only when a method opens it.

`open_backend` is the one place that turns (model, runtime options, capabilities a method needs) into a
backend object; a method whose needs the chosen backend lacks is refused at load, with an error naming
the capability and the backends that have it."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rankwise.backends import choice
from rankwise.backends.interface import Capability
from rankwise.backends.options import OnnxOptions, OpenAIOptions, OpenVINOOptions, RuntimeOptions, TransformersOptions
from rankwise.errors import ModelNotAvailableError, OptionError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation, resolve_gguf, resolve_model
from rankwise.options import validate_options

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
    options: type[RuntimeOptions] = RuntimeOptions  # the runtime options it takes
    # Why it declines an option that other backends take, where the reason helps ("quantize": "GGUF is ...").
    declines: Mapping[str, str] = field(default_factory=dict)

    def option_names(self) -> set[str]:
        return {f.name for f in dataclasses.fields(self.options)}

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
            capabilities=frozenset(
                {
                    Capability.EMBED,
                    Capability.TOKEN_EMBED,
                    Capability.SCORE_PAIRS,
                    Capability.TOKENIZE,
                    Capability.NEXT_TOKEN_LOGPROBS,
                    Capability.BRIDGED_FIRST_TOKEN,
                    Capability.CONTINUATION_LOGPROBS,
                    Capability.GENERATE,
                    Capability.ATTENTION,
                    Capability.SEQ2SEQ,
                    Capability.MULTI_VECTOR,
                    Capability.NEXT_TOKEN_LOGITS,
                    Capability.LAYER_HEAD,
                    Capability.TOP_LOGPROBS,
                    Capability.EMBEDDING_TOKENS,
                }
            ),
            requires_modules=("torch", "transformers"),
            install_hint="pip install torch==2.13.0 transformers (CPU wheel pinned), or pip install rankwise",
            description="PyTorch + Hugging Face transformers: encoders, cross-encoders and causal LMs",
            options=TransformersOptions,
        ),
        BackendEntry(
            name="onnx",
            factory="rankwise.backends.onnx_runtime:open_onnx",
            capabilities=frozenset({Capability.EMBED, Capability.TOKEN_EMBED, Capability.SCORE_PAIRS}),
            requires_modules=("onnxruntime", "onnx", "torch", "transformers"),
            install_hint="pip install 'rankwise[onnx]'",
            description="ONNX Runtime on CPU for encoders and cross-encoders: exported once, fused, "
            "optionally int8 (quantize=int8); cached in the rankwise cache",
            options=OnnxOptions,
            declines={
                "adapter": "only a registered model's own adapter is merged into the exported graph",
                "adapters": "the exported graph has the weights fixed; serve adapters with the transformers backend",
            },
        ),
        BackendEntry(
            name="openvino",
            factory="rankwise.backends.openvino:open_openvino",
            capabilities=frozenset({Capability.EMBED, Capability.TOKEN_EMBED, Capability.SCORE_PAIRS}),
            requires_modules=("openvino", "torch", "transformers"),
            install_hint="pip install 'rankwise[openvino]'",
            description="OpenVINO on CPU for encoders and cross-encoders: converted once from PyTorch, "
            "optionally int8 weights and activations (quantize=int8, NNCF); cached in the rankwise cache",
            options=OpenVINOOptions,
            declines={
                "adapter": "only a registered model's own adapter is merged into the converted model",
                "adapters": "the converted model has the weights fixed; serve adapters with the transformers backend",
            },
        ),
        BackendEntry(
            name="openai",
            factory="rankwise.backends.openai_compatible:OpenAICompatibleLM",
            capabilities=frozenset(
                {
                    Capability.TOKENIZE,
                    Capability.NEXT_TOKEN_LOGPROBS,
                    Capability.BRIDGED_FIRST_TOKEN,
                    Capability.GENERATE,
                    Capability.TOP_LOGPROBS,
                }
            ),
            requires_modules=("httpx", "transformers"),
            install_hint="pip install httpx transformers",
            description="an OpenAI-compatible server (/v1/completions; base_url=, api_key=): generation, and "
            "next-token log-probs exact only within the server's top_logprobs",
            options=OpenAIOptions,
            declines={
                name: "it does not apply to a model behind a server"
                for name in ("adapter", "adapters", "quantize", "dtype")
            },
        ),
        BackendEntry(
            name="llama.cpp",
            factory="rankwise.backends.llama_cpp:LlamaCppLM",
            capabilities=frozenset(
                {
                    Capability.TOKENIZE,
                    Capability.NEXT_TOKEN_LOGPROBS,
                    Capability.BRIDGED_FIRST_TOKEN,
                    Capability.CONTINUATION_LOGPROBS,
                    Capability.GENERATE,
                    Capability.TOP_LOGPROBS,
                }
            ),
            requires_modules=("llama_cpp", "jinja2"),
            install_hint="pip install 'rankwise[llama-cpp]' (builds llama.cpp once, several minutes on 2 cores)",
            description="llama-cpp-python on the GGUF files as shipped (quantized; no dequantization)",
            weights="gguf",
            declines={
                "adapter": "merge the LoRA adapter and convert to GGUF first",
                "adapters": "llama-cpp-python applies LoRA at load; serve adapters with the transformers backend",
                "quantize": "GGUF weights are quantized already",
                "dtype": "the GGUF file fixes the weight types",
            },
        ),
    ]
}


def _takers(option: str) -> str:
    """The backends that take a runtime option, for the error that refuses it elsewhere."""
    return ", ".join(name for name, entry in BACKENDS.items() if option in entry.option_names())


def runtime_option_names() -> set[str]:
    """Every runtime option some backend takes."""
    return set().union(*(entry.option_names() for entry in BACKENDS.values()))


def split_options(options: Mapping[str, Any]) -> tuple[RuntimeOptions, dict[str, Any]]:
    """The one place that tells runtime options from method options: the chosen backend's options,
    type-checked into its option class, and the rest (for the method to check). An option that only other
    backends take is refused here, naming them, instead of reaching the method as an unknown name."""
    rest = dict(options)
    name = rest.pop("backend", None)
    if name is not None and not isinstance(name, str):
        raise OptionError(
            f"option backend must be a string naming a backend ({', '.join(BACKENDS)}, or {choice.AUTO}), "
            f"got {type(name).__name__} {name!r}"
        )
    if name == choice.AUTO:
        return _auto_options(rest)
    entry = backend_entry(name)
    own = entry.option_names()
    for key in sorted(set(rest) & (runtime_option_names() - own)):
        takers = _takers(key)
        why = f": {entry.declines[key]}" if key in entry.declines else ""
        raise OptionError(
            f"runtime option {key}={rest[key]!r} does not apply to backend {entry.name!r}{why} "
            f"(backends that take it: {takers})"
        )
    given = {key: rest.pop(key) for key in sorted(set(rest) & own)}
    runtime = validate_options(entry.options, f"backend {entry.name!r}", {**given, "backend": name})
    return runtime, rest


def _auto_options(rest: dict[str, Any]) -> tuple[RuntimeOptions, dict[str, Any]]:
    """backend=auto takes the options every candidate takes; one that only some backends take would decide
    the backend itself, so it is refused, naming them."""
    common = {f.name for f in dataclasses.fields(RuntimeOptions)}
    for key in sorted(set(rest) & (runtime_option_names() - common)):
        takers = _takers(key)
        raise OptionError(
            f"runtime option {key}={rest[key]!r} does not go with backend={choice.AUTO}, which chooses among "
            f"{', '.join(choice.CANDIDATES)} at equal (fp32) scores; name the backend instead ({takers})"
        )
    given = {key: rest.pop(key) for key in sorted(set(rest) & common)}
    return validate_options(RuntimeOptions, f"backend {choice.AUTO!r}", {**given, "backend": choice.AUTO}), rest


def runtime_options(**given: Any) -> RuntimeOptions:
    """Runtime options alone (for code that opens a backend without a method), checked like a method's."""
    runtime, rest = split_options(given)
    if rest:
        known = {f.name for f in dataclasses.fields(runtime)}
        raise OptionError(f"unknown runtime option(s): {', '.join(sorted(rest))} (known: {', '.join(sorted(known))})")
    return runtime


def locate(model: str, backend: str | None) -> ModelLocation:
    """Resolve a model name or path into what the chosen backend loads."""
    if backend != choice.AUTO and backend_entry(backend).weights == "gguf":
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
            f"does not offer; {where}"
        )


def open_backend(location: ModelLocation, runtime: RuntimeOptions, needs: frozenset[Capability], method: str) -> Any:
    """A backend object for the model that offers every capability in `needs` (with no backend named, or
    backend=auto: the one `choice` says is fastest here at equal scores)."""
    runtime = choice.resolve(location, runtime, needs)
    entry = backend_entry(runtime.backend)
    check_capabilities(entry, needs, method)
    missing = entry.missing_modules()
    if missing:
        raise ModelNotAvailableError(
            f"backend {entry.name!r} needs {', '.join(missing)}, which is not installed: {entry.install_hint}"
        )
    backend = entry.load_factory()(location, runtime, needs)
    lacking = needs - backend.capabilities
    if lacking:
        # The entry promises more than this model offers (e.g. embeddings from a GGUF chat model).
        names = ", ".join(sorted(c.value for c in lacking))
        raise UnsupportedMethodError(
            f"backend {entry.name!r} cannot offer {names} for model {location.label!r}, which method {method!r} needs"
        )
    return backend

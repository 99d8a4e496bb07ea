"""Runtime options: how a backend runs a model, as opposed to what a method does with it.

Every backend takes `RuntimeOptions`; each backend entry (`backends/registry.py`) names the subclass that
adds its own fields, so `base_url` exists for the OpenAI-compatible backend only and `quantize` only where
something quantizes. `split_options` in the registry is the one place that tells runtime options from
method options."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from rankwise.options import option


@dataclass(frozen=True)
class RuntimeOptions:
    """What every backend takes. `max_length` caps tokens per input (None: the model's own limit);
    `truncate=False` makes an over-long input an error instead of cutting it."""

    backend: str | None = option(None, help="a name in backends/registry.py; None: transformers")
    device: str | None = option(None, help="cpu, cuda, mps (default: the best available)")
    threads: int | None = option(None, minimum=1, help="CPU threads")
    batch_size: int = option(32, minimum=1, help="inputs per forward pass")
    max_tokens_per_batch: int = option(16384, minimum=1, help="padded tokens per forward pass")
    max_length: int | None = option(None, minimum=1, help="tokens per input (default: the model's limit)")
    truncate: bool = option(True, help="false: an over-long input is an error instead of being cut")

    def overrides(self) -> dict[str, Any]:
        """The fields set away from their defaults: what a composition hands on to the rerankers it loads,
        so that each of them still validates the options against its own backend."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}


@dataclass(frozen=True)
class TransformersOptions(RuntimeOptions):
    dtype: str | None = option(None, help="float32, bfloat16, float16 (default: float32 on CPU)")
    quantize: Literal["int8"] | None = option(None, help="torch dynamic int8 quantization of Linear layers (CPU)")
    adapter: str | None = option(None, help="a LoRA adapter folder (peft), merged into the weights at load")
    adapters: dict[str, str] | None = option(
        None, help="LoRA adapters by name (name: folder), kept unmerged and chosen per request (serve --adapter)"
    )
    trust_remote_code: bool = option(
        False, help="run the Python code a model's folder ships (its auto_map); only after reading it"
    )
    pooling: Literal["lasttoken", "mean", "cls"] | None = option(
        None,
        help="a text encoder's pooling where its folder has no sentence-transformers pooling (E2Rank's "
        "checkpoints: lasttoken); a folder that states another is refused",
    )
    share_prefix: bool | None = option(
        None,
        help="LLM prompts of one call that share a token prefix (system text, instruction, query) run it once "
        "and each passage's tail on a copy of its KV cache; equal scores to float rounding (default: on, "
        "off with quantize=int8, whose activation scales depend on the batch)",
    )


@dataclass(frozen=True)
class OnnxOptions(RuntimeOptions):
    quantize: Literal["int8"] | None = option(None, help="int8 dynamic per-channel quantization of the graph")


@dataclass(frozen=True)
class OpenVINOOptions(RuntimeOptions):
    quantize: Literal["int8"] | None = option(
        None, help="int8 weights and activations (NNCF post-training quantization)"
    )
    calibration_texts: str | None = option(
        None, help="a file of texts (one per line) that int8 quantization calibrates on (default: a built-in set)"
    )
    hint: Literal["latency", "throughput"] = option(
        "latency", help="OpenVINO's performance hint: one batch as fast as possible, or many in parallel"
    )


@dataclass(frozen=True)
class OpenAIOptions(RuntimeOptions):
    """Where an OpenAI-compatible server is, and how to talk to it."""

    base_url: str | None = option(None, help="e.g. http://127.0.0.1:8080/v1; default $OPENAI_BASE_URL")
    api_key: str | None = option(None, help="default $OPENAI_API_KEY")
    served_model: str | None = option(None, help="the model name the server knows (default: the model as given)")
    request_timeout: float = option(60.0, minimum=0.001, help="seconds per HTTP request")
    max_retries: int = option(3, minimum=0, help="retries on connection errors, 429 and 5xx")
    concurrency: int = option(4, minimum=1, help="requests in flight")
    top_logprobs: int = option(20, minimum=1, help="log-probs the server returns per position")

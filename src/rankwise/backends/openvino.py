"""OpenVINO for encoders and cross-encoders: the same tokenization, batching and pooling as the
transformers classes, with the network compiled by OpenVINO for this CPU.

The transformers weights (a registered adapter merged in) are converted once from PyTorch
(`openvino.convert_model`) and saved as fp32 IR; with `quantize="int8"` NNCF quantizes weights and
activations (static post-training quantization, calibrated on `calibration_texts`: a file of one text
per line, or the small built-in set of queries and passages). Each variant is cached under
`<cache>/openvino/<key>/`, keyed by the weights like the ONNX variants."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from importlib import resources
from pathlib import Path
from typing import Any

from rankwise.backends.encoder import TextEncoder
from rankwise.backends.export_cache import cached_variant, weights_key
from rankwise.backends.interface import Capability
from rankwise.backends.onnx_runtime import traceable_model
from rankwise.backends.options import OpenVINOOptions, RuntimeOptions
from rankwise.backends.pair_scorer import PairScorer
from rankwise.backends.runtime import apply_threads, load_pretrained, refuse_remote_code
from rankwise.errors import InputError
from rankwise.models.resolve import ModelLocation
from rankwise.verbosity import verbose

EXPORT_VERSION = 1  # bump when the conversion recipe changes, so cached IRs are rebuilt
CALIBRATION_BATCH = 8


def calibration_texts(path: str | None) -> list[str]:
    """The texts int8 calibration runs on: the lines of `path`, or the built-in set."""
    if path is None:
        text = resources.files("rankwise.backends").joinpath("data/calibration_texts.txt").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"calibration_texts file {path!r} cannot be read as UTF-8 text: {e}") from None
    texts = [line.strip() for line in text.splitlines() if line.strip()]
    if len(texts) < 2:
        raise InputError(f"calibration_texts file {path!r} has {len(texts)} non-empty line(s); give at least 2 texts")
    return texts


def _calibration_batches(traced: Any, head: str, texts: list[str]) -> list[dict[str, Any]]:
    """Tokenized batches of the calibration texts: texts alone for an encoder, (text, next text) pairs for
    a cross-encoder, so that both halves of its input are seen."""
    batches = []
    for start in range(0, len(texts), CALIBRATION_BATCH):
        chunk = texts[start : start + CALIBRATION_BATCH]
        if head == "encoder":
            encoded = traced.tokenizer(chunk, padding=True, truncation=True, max_length=256, return_tensors="np")
        else:
            partners = [texts[(start + i + 1) % len(texts)] for i in range(len(chunk))]
            encoded = traced.tokenizer(
                chunk, partners, padding=True, truncation=True, max_length=256, return_tensors="np"
            )
        batches.append({name: encoded[name].astype("int64") for name in traced.names})
    return batches


def converted_ir(location: ModelLocation, head: str, options: OpenVINOOptions) -> Path:
    """The cached OpenVINO IR (model.xml) for `location` and `head`, converting (and quantizing) on first use."""
    texts = calibration_texts(options.calibration_texts) if options.quantize == "int8" else []

    def build(work: Path, staged: Path) -> None:
        import openvino as ov
        import torch

        traced = traceable_model(location, head, "sdpa")
        with torch.no_grad():
            model = ov.convert_model(
                traced.module,
                example_input=traced.sample,
                input=[ov.PartialShape([-1, -1])] * len(traced.names),
            )
        for port, name in zip(model.inputs, traced.names):
            port.get_tensor().set_names({name})
        if options.quantize == "int8":
            import nncf

            batches = _calibration_batches(traced, head, texts)
            with contextlib.nullcontext() if verbose() else contextlib.redirect_stdout(io.StringIO()):
                model = nncf.quantize(  # its progress bars print to stdout
                    model, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches)
                )
        ov.save_model(model, str(staged / "model.xml"), compress_to_fp16=False)

    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12] if texts else None
    about = {"model": location.path, "adapter": location.adapter, "head": head, "quantize": options.quantize}
    key = weights_key(location, EXPORT_VERSION, head, options.quantize or "fp32", digest)
    return cached_variant("openvino", key, "model.xml", build, about)


class _OpenVINORunner:
    """What both OpenVINO classes share: the tokenizer, the compiled model, and running one batch."""

    options: RuntimeOptions

    def _open(self, location: ModelLocation, options: OpenVINOOptions, head: str) -> Any:
        import openvino as ov
        from transformers import AutoConfig, AutoTokenizer

        self.options = options
        apply_threads(options.threads)
        self.device = "cpu"
        refuse_remote_code(location, trusted=False)  # a converted graph cannot hold a folder's own code
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location)
        config = {
            "INFERENCE_NUM_THREADS": options.threads or os.cpu_count() or 1,
            "PERFORMANCE_HINT": options.hint.upper(),
        }
        if options.quantize is None:
            # fp32 means fp32: on CPUs with AMX or AVX-512 BF16 OpenVINO would otherwise run bf16 by default,
            # and the scores would no longer equal the transformers backend's.
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = ov.Core().compile_model(str(converted_ir(location, head, options)), "CPU", config)
        self._inputs = {name for port in self.compiled.inputs for name in port.get_names()}
        return load_pretrained(AutoConfig.from_pretrained, location)

    def _run(self, encoded: Any) -> Any:
        import torch

        feed = {name: encoded[name].numpy().astype("int64") for name in self._inputs if name in encoded}
        # An infer request per batch: requests are not shared between threads (the service runs several).
        result = self.compiled.create_infer_request().infer(feed)
        return torch.from_numpy(result[self.compiled.outputs[0]].copy())


class OpenVINOTextEncoder(_OpenVINORunner, TextEncoder):
    backend_name = "openvino"

    def __init__(self, location: ModelLocation, options: OpenVINOOptions):
        self._configure(location, self._open(location, options, "encoder"))

    def _hidden_states(self, encoded: Any) -> Any:
        return self._run(encoded)


class OpenVINOPairScorer(_OpenVINORunner, PairScorer):
    backend_name = "openvino"

    def __init__(self, location: ModelLocation, options: OpenVINOOptions):
        self._configure(self._open(location, options, "classifier"))

    def _logits(self, encoded: Any) -> Any:
        return self._run(encoded)


def open_openvino(location: ModelLocation, runtime: OpenVINOOptions, needs: frozenset[Capability]) -> Any:
    if needs & {Capability.EMBED, Capability.TOKEN_EMBED}:
        return OpenVINOTextEncoder(location, runtime)
    return OpenVINOPairScorer(location, runtime)

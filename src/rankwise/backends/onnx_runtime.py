"""ONNX Runtime for encoders and cross-encoders: the same tokenization, batching and pooling as the
transformers classes, with the network run by an ONNX Runtime session.

The transformers weights (a registered adapter merged in) are exported once with `torch.onnx`, the graph is
optimized by ONNX Runtime's transformer optimizer (attention and layer-norm fusion), and with
`quantize="int8"` its MatMul weights are dynamically quantized to int8. Each variant is cached under
`<cache>/onnx/<key>/`, the key derived from the weights' location, size and modification times and the
adapter, so a changed model is exported again; a crash mid-export leaves no half-written file in use."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankwise.backends.encoder import TextEncoder
from rankwise.backends.export_cache import cached_variant, weights_key
from rankwise.backends.interface import Capability
from rankwise.backends.options import OnnxOptions, RuntimeOptions
from rankwise.backends.pair_scorer import PairScorer
from rankwise.backends.runtime import apply_threads, load_pretrained, merged_adapter, refuse_remote_code
from rankwise.models.resolve import ModelLocation

EXPORT_VERSION = 4  # bump when the export recipe changes, so cached graphs are rebuilt


def exported_graph(location: ModelLocation, head: str, quantize: str | None, cache: Path | None = None) -> Path:
    """The cached ONNX graph for `location` (head "encoder": last hidden states; "classifier": logits),
    exporting, optimizing and quantizing it on first use."""

    def build(work: Path, staged: Path) -> None:
        exported, config = export_torch_onnx(location, head, work)
        result = _optimize(exported, work, config)
        if quantize == "int8":
            import onnx
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantized = work / "quantized.onnx"
            # The fused graph has contrib ops shape inference cannot type: say their outputs are float.
            quantize_dynamic(
                str(result),
                str(quantized),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
            result = quantized
        shutil.move(str(result), staged / "model.onnx")

    about = {"model": location.path, "adapter": location.adapter, "head": head, "quantize": quantize}
    key = weights_key(location, EXPORT_VERSION, head, quantize or "fp32")
    return cached_variant("onnx", key, "model.onnx", build, about, cache)


@dataclass
class Traceable:
    """A transformers encoder or classifier wrapped to take its inputs positionally and return one tensor
    (the last hidden states, or the logits), with a sample batch to trace it on."""

    module: Any
    sample: tuple[Any, ...]
    names: list[str]
    output: str
    config: Any
    tokenizer: Any


def traceable_model(location: ModelLocation, head: str, attention: str) -> Traceable:
    """The fp32 weights of `location` (a registered adapter merged in) for head "encoder" or "classifier",
    ready to trace, with `attention` ("eager" or "sdpa") as the attention implementation."""
    import torch
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    model_class = AutoModel if head == "encoder" else AutoModelForSequenceClassification
    model = load_pretrained(model_class.from_pretrained, location, dtype=torch.float32, attn_implementation=attention)
    if location.adapter:
        model = merged_adapter(model, location.adapter)
    model.eval()
    tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location)
    sample = tokenizer(["a query", "a somewhat longer passage of text"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    output = "last_hidden_state" if head == "encoder" else "logits"

    class Wrapped(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return getattr(self.inner(**dict(zip(names, inputs))), output)

    return Traceable(Wrapped(model), tuple(sample[n] for n in names), names, output, model.config, tokenizer)


def export_torch_onnx(location: ModelLocation, head: str, work: Path) -> tuple[Path, Any]:
    """The model's plain ONNX graph (no fused ops), exported with `torch.onnx` into `work`, and its config."""
    import torch

    # Eager attention traces to the plain pattern ONNX Runtime's optimizer fuses (and no data-dependent
    # shortcut of the SDPA path gets frozen into the graph).
    traced = traceable_model(location, head, "eager")
    path = work / "exported.onnx"
    dynamic = {name: {0: "batch", 1: "sequence"} for name in traced.names}
    dynamic[traced.output] = {0: "batch", 1: "sequence"} if head == "encoder" else {0: "batch"}
    with torch.no_grad():
        torch.onnx.export(
            traced.module,
            traced.sample,
            str(path),
            input_names=traced.names,
            output_names=[traced.output],
            dynamic_axes=dynamic,
            opset_version=17,
            dynamo=False,
        )
    return path, traced.config


def _optimize(path: Path, work: Path, config: Any) -> Path:
    """Fuse attention and layer norms where the architecture is one the optimizer knows (BERT family)."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(path),
            model_type="bert",
            opt_level=1,
            num_heads=getattr(config, "num_attention_heads", 0),
            hidden_size=getattr(config, "hidden_size", 0),
        )
        out = work / "optimized.onnx"
        optimized.save_model_to_file(str(out))
        return out
    except Exception:  # an architecture the fusion passes do not know: the plain graph still runs
        return path


def _session(path: Path, options: OnnxOptions) -> Any:
    import onnxruntime

    settings = onnxruntime.SessionOptions()
    settings.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    # One inter-op thread: these graphs are a chain of large ops, and two cores are best spent inside them.
    settings.intra_op_num_threads = options.threads or os.cpu_count() or 1
    settings.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"])


class _OnnxRunner:
    """What both ONNX classes share: the tokenizer, a session on the cached graph, and running one batch."""

    options: RuntimeOptions

    def _open(self, location: ModelLocation, options: OnnxOptions, head: str) -> Any:
        """Set up tokenizer and session; returns the model config for the subclass's `_configure`."""
        from transformers import AutoConfig, AutoTokenizer

        self.options = options
        apply_threads(options.threads)
        self.device = "cpu"
        refuse_remote_code(location, trusted=False)  # an exported graph cannot hold a folder's own code
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location)
        self.session = _session(exported_graph(location, head, options.quantize), options)
        self._inputs = {i.name for i in self.session.get_inputs()}
        return load_pretrained(AutoConfig.from_pretrained, location)

    def _run(self, encoded: Any) -> Any:
        import torch

        feed = {name: encoded[name].numpy().astype("int64") for name in self._inputs if name in encoded}
        (output,) = self.session.run(None, feed)
        return torch.from_numpy(output)


class OnnxTextEncoder(_OnnxRunner, TextEncoder):
    backend_name = "onnx"

    def __init__(self, location: ModelLocation, options: OnnxOptions):
        self._configure(location, self._open(location, options, "encoder"))

    def _hidden_states(self, encoded: Any) -> Any:
        return self._run(encoded)


class OnnxPairScorer(_OnnxRunner, PairScorer):
    backend_name = "onnx"

    def __init__(self, location: ModelLocation, options: OnnxOptions):
        self._configure(self._open(location, options, "classifier"))

    def _logits(self, encoded: Any) -> Any:
        return self._run(encoded)


def open_onnx(location: ModelLocation, runtime: OnnxOptions, needs: frozenset[Capability]) -> Any:
    if needs & {Capability.EMBED, Capability.TOKEN_EMBED}:
        return OnnxTextEncoder(location, runtime)
    return OnnxPairScorer(location, runtime)

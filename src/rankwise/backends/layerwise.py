"""FlagEmbedding's layerwise MiniCPM reranker (BAAI/bge-reranker-v2-minicpm-layerwise) computed natively, without
the Python files its folder ships (they fail on transformers 5 and would run foreign code).

The checkpoint is a MiniCPM decoder with one one-logit head per upper layer (`start_layer` .. the last).
MiniCPM is a Llama with three scalings, folded into the weights here so that transformers' `LlamaModel` computes
it exactly: embeddings times `scale_emb`, and each attention and MLP output times `scale_depth / sqrt(layers)`
before its residual add (the output projections `o_proj` and `down_proj` are linear, so the factor goes into
their weights). The score at layer L is the head of layer L applied to the final norm of the hidden state after
L layers, at the last position (FlagEmbedding's `LayerWiseMiniCPMModel` with `cutoff_layers=[L]`); the layers
past L are not run. Only the published "simple" head is scored: the "raw" and "complex" heads of FlagEmbedding's
training code give vocabulary logits, not a relevance score, and are refused."""

from __future__ import annotations

import copy
import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rankwise.backends.chat_tokenizer import ChatTokenizer, PromptEncoding
from rankwise.backends.interface import Capability
from rankwise.backends.options import TransformersOptions
from rankwise.backends.runtime import (
    apply_threads,
    checkpoint_tensors,
    dynamic_int8,
    left_padded,
    length_sorted_batches,
    load_pretrained,
    select_device,
    select_dtype,
)
from rankwise.cancellation import check_cancelled
from rankwise.errors import ModelNotAvailableError, OptionError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np

ARCHITECTURE = "LayerWiseMiniCPMForCausalLM"
SCORED_HEADS = ("simple",)


def is_layerwise_folder(location: ModelLocation) -> bool:
    config = location.read_json("config.json") or {}
    return ARCHITECTURE in (config.get("architectures") or [])


class LayerwiseMiniCPM(PromptEncoding):
    backend_name = "transformers"
    capabilities = frozenset({Capability.TOKENIZE, Capability.LAYER_HEAD})

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        import torch
        from transformers import AutoTokenizer

        self._torch = torch
        self.options = options
        config = location.read_json("config.json") or {}
        self._check(location, config, options)
        apply_threads(options.threads)
        self.device = select_device(options.device)
        dtype = select_dtype(options.dtype, self.device)
        # trust_remote_code=False said out loud: the folder's auto_map would otherwise make transformers ask on
        # stdin whether to run its code, and its tokenizer is a plain Llama one.
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location, trust_remote_code=False)
        self.pad_id = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else (self.tokenizer.eos_token_id or 0)
        )
        self.head_layers = range(config.get("start_layer", 8), config["num_hidden_layers"] + 1)
        self.model, self.heads = self._load(location, config, dtype)
        if options.quantize:
            self.model = dynamic_int8(self.model, options.quantize, self.device)
        self._stacks: dict[int, Any] = {}
        context = config.get("max_position_embeddings") or 2048
        self.max_length = min(options.max_length or context, context)
        self.stats: Counter[str] = Counter()
        self.text = ChatTokenizer(self.tokenizer, location.label, truncate=options.truncate)

    @staticmethod
    def _check(location: ModelLocation, config: dict[str, Any], options: TransformersOptions) -> None:
        if ARCHITECTURE not in (config.get("architectures") or []):
            raise ModelNotAvailableError(
                f"{location.label}: not a {ARCHITECTURE} checkpoint (its config names {config.get('architectures')})"
            )
        head = config.get("head_type", "simple")
        if head not in SCORED_HEADS:
            raise ModelNotAvailableError(
                f"{location.label}: head_type {head!r} gives vocabulary logits, not a relevance score; rankwise "
                f"scores the published layerwise rerankers' head_type {', '.join(map(repr, SCORED_HEADS))}"
            )
        if config.get("rope_scaling"):
            raise ModelNotAvailableError(
                f"{location.label}: rope_scaling {config['rope_scaling']!r} is MiniCPM's own "
                "scheme, which rankwise does not compute; the published checkpoint has none"
            )
        if options.adapter or options.adapters or location.adapter:
            raise OptionError(
                f"{location.label}: a LoRA adapter is not merged into a layerwise checkpoint; merge it "
                "with FlagEmbedding and save the merged folder"
            )

    def _load(self, location: ModelLocation, config: dict[str, Any], dtype: Any) -> tuple[Any, dict[int, Any]]:
        torch = self._torch
        from transformers import LlamaConfig, LlamaModel
        from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

        layers = config["num_hidden_layers"]
        llama = LlamaConfig(  # type: ignore[call-arg]  # rope_theta is read from **kwargs
            vocab_size=config["vocab_size"],
            hidden_size=config["hidden_size"],
            intermediate_size=config["intermediate_size"],
            num_hidden_layers=layers,
            num_attention_heads=config["num_attention_heads"],
            num_key_value_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
            hidden_act=config.get("hidden_act", "silu"),
            max_position_embeddings=config.get("max_position_embeddings", 2048),
            rms_norm_eps=config.get("rms_norm_eps", 1e-6),
            rope_theta=config.get("rope_theta", 10000.0),
            attention_bias=config.get("attention_bias", False),
            pad_token_id=self.pad_id,
            tie_word_embeddings=False,
        )
        residual_scale = config.get("scale_depth", 1) / math.sqrt(layers)
        state: dict[str, Any] = {}
        heads: dict[int, Any] = {}
        for name, tensor in checkpoint_tensors(location, "layerwise checkpoint"):
            if name.startswith("lm_head."):
                # "lm_head.{i}.linear_head.weight" per layer (head_multi), or one "lm_head.linear_head.weight"
                index = name.split(".")[1]
                for layer in [self.head_layers.start + int(index)] if index.isdigit() else self.head_layers:
                    heads[layer] = tensor.to(torch.float32)
                continue
            if not name.startswith("model."):
                continue
            key = name[len("model.") :]
            if key == "embed_tokens.weight":
                tensor = tensor.to(torch.float32) * config.get("scale_emb", 1)
            elif key.endswith(("self_attn.o_proj.weight", "self_attn.o_proj.bias", "mlp.down_proj.weight")):
                tensor = tensor.to(torch.float32) * residual_scale
            state[key] = tensor.to(dtype)
        missing = [layer for layer in self.head_layers if layer not in heads]
        if missing:
            raise ModelNotAvailableError(f"{location.label}: no relevance head for layer(s) {missing} in its weights")
        with torch.device("meta"):
            model = LlamaModel(llama)
        try:
            model.load_state_dict(state, strict=True, assign=True)
        except RuntimeError as e:
            raise ModelNotAvailableError(f"{location.label}: its weights do not fit its config: {e}") from None
        model.rotary_emb = LlamaRotaryEmbedding(llama)  # a non-persistent buffer, still on the meta device
        model.to(self.device).eval()  # type: ignore[arg-type]  # torch accepts a device string
        return model, {layer: head.to(self.device) for layer, head in heads.items()}

    def _stack(self, layer: int) -> Any:
        """The model run through its first `layer` layers only: the same modules, with a config that stops the
        layer loop there (transformers' LlamaModel runs `layers[:config.num_hidden_layers]`)."""
        if layer not in self._stacks:
            view = copy.copy(self.model)
            view.config = copy.deepcopy(self.model.config)
            view.config.num_hidden_layers = layer
            self._stacks[layer] = view
        return self._stacks[layer]

    def head_scores(self, sequences: Sequence[Sequence[int]], layer: int) -> np.ndarray:
        import numpy as np

        torch = self._torch
        if layer not in self.head_layers:
            raise OptionError(
                f"layer {layer} has no relevance head: this checkpoint's heads are at layers "
                f"{self.head_layers.start}..{self.head_layers.stop - 1}"
            )
        for ids in sequences:
            self._check_length(ids)
        out = np.zeros(len(sequences), dtype=np.float32)
        stack, head = self._stack(layer), self.heads[layer]
        batches = length_sorted_batches(
            [len(s) for s in sequences], self.options.batch_size, self.options.max_tokens_per_batch
        )
        with torch.inference_mode():
            for batch in batches:
                check_cancelled()
                input_ids, mask, positions = left_padded([sequences[i] for i in batch], self.pad_id, self.device)
                hidden = stack(
                    input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=False
                ).last_hidden_state[:, -1]
                out[batch] = (hidden.float() @ head.T)[:, 0].cpu().numpy()
                self.stats["forward_passes"] += 1
                self.stats["prompt_tokens"] += int(mask.sum())
        return out

"""PE-Rank's checkpoints (Liu et al., "Leveraging Passage Embeddings for Efficient Listwise Reranking with Large
Language Models", WWW 2025; liuqi6777/pe_rank, liuqi6777/pe-rank-mistral-jina): a decoder that reads each
passage as one token and names passages by the same tokens.

The folder is the authors' training output: a config of `model_type` `embed_mistral` or `embed_llama` (a
Mistral or Llama config plus `encoder_name`, `encoder_pooling`, `projector_type`, `embedding_size`), weights
holding the decoder's, the encoder's (`model.encoder.encoder.*`, over the weights `encoder_name` names) and the
projector's (`model.projector.*`), and a tokenizer with the `<PLACEHOLDER>` token.

A passage is encoded by the encoder alone (its own tokenizer, at most 512 tokens, the authors' pooling by
position, unit length) and projected into the decoder's input space. The prompt's `<PLACEHOLDER>` tokens take
their passages' projections as input embeddings, and the output head is extended by the same projections (the
authors' `generate()` writes both rows): at each step, passage j's logit is the final hidden state's dot
product with its projection. Decoding is greedy over the passages not yet named (their
`prefix_allowed_tokens_fn`), and the chosen passage's projection is the next input, as its token's embedding
row is. Computed here with transformers' own Mistral / Llama classes; no code from the checkpoint runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rankwise.backends.chat_tokenizer import ChatTokenizer, PromptEncoding
from rankwise.backends.interface import Capability
from rankwise.backends.options import TransformersOptions
from rankwise.backends.runtime import (
    apply_threads,
    checkpoint_tensors,
    load_pretrained,
    refuse_remote_code,
    select_device,
    select_dtype,
    stop_between_layers,
)
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError, ModelNotAvailableError, OptionError
from rankwise.models.resolve import ModelLocation, resolve_model

if TYPE_CHECKING:
    import torch

BASES = {"embed_mistral": "mistral", "embed_llama": "llama"}  # the authors' config types and what they extend
POOLINGS = ("mean", "cls", "last_token")  # the authors' Encoder.forward
PLACEHOLDER = "<PLACEHOLDER>"
ENCODER_MAX_TOKENS = 512  # Ranker._get_encoder_inputs
ENCODER_BATCH = 16  # Encoder.forward
ENCODER_KEYS, PROJECTOR_KEYS = "model.encoder.encoder.", "model.projector."


def is_passage_embedding_folder(location: ModelLocation) -> bool:
    return (location.read_json("config.json") or {}).get("model_type") in BASES


def build_projector(kind: str, embedding_size: int, hidden_size: int) -> torch.nn.Module:
    """The authors' `build_projector`: `linear`, `mlp{N}x_gelu` (N linear layers with GELU between) or
    `identity`."""
    import re

    import torch

    depth = re.fullmatch(r"mlp(\d+)x_gelu", kind)
    if kind == "linear" or (depth and int(depth.group(1)) >= 1):
        layers: list[torch.nn.Module] = [torch.nn.Linear(embedding_size, hidden_size)]
        for _ in range(1, int(depth.group(1)) if depth else 1):
            layers += [torch.nn.GELU(), torch.nn.Linear(hidden_size, hidden_size)]
        return layers[0] if kind == "linear" else torch.nn.Sequential(*layers)
    if kind == "identity":
        return torch.nn.Identity()
    raise ModelNotAvailableError(
        f"projector_type {kind!r} is not one PE-Rank builds (linear, mlpNx_gelu, identity), so rankwise cannot "
        "compute it"
    )


class PassageEmbeddingLM(PromptEncoding):
    backend_name = "transformers"
    capabilities = frozenset({Capability.TOKENIZE, Capability.EMBEDDING_TOKENS})
    placeholder = PLACEHOLDER

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        import torch
        from transformers import AutoTokenizer

        self._torch = torch
        config = location.read_json("config.json") or {}
        self._check(location, config, options)
        apply_threads(options.threads)
        self.device = select_device(options.device)
        self.dtype = select_dtype(options.dtype, self.device)
        tokenizer = load_pretrained(AutoTokenizer.from_pretrained, location, trust_remote_code=False)
        if tokenizer.convert_tokens_to_ids(PLACEHOLDER) in (None, tokenizer.unk_token_id):
            tokenizer.add_tokens([PLACEHOLDER], special_tokens=True)  # as the authors' initialize_tokenizer
        self.placeholder_id = tokenizer.convert_tokens_to_ids(PLACEHOLDER)
        self.text = ChatTokenizer(tokenizer, location.label, truncate=options.truncate)
        self.pooling = config["encoder_pooling"]
        from transformers import AutoConfig

        base = AutoConfig.for_model(BASES[config["model_type"]], **_base_fields(config))  # the decoder's config
        kept = self._encoder_and_projector_weights(location)
        self.encoder, self.encoder_tokenizer = self._encoder(location, config, options, kept)
        self.projector = self._projector(location, config, base.hidden_size, kept)
        self.model = self._decoder(location, base)
        stop_between_layers(self.model)
        context = config.get("max_position_embeddings") or 4096
        self.max_length = min(options.max_length or context, context)
        self.stats: Counter[str] = Counter()

    @staticmethod
    def _check(location: ModelLocation, config: dict[str, Any], options: TransformersOptions) -> None:
        if config.get("model_type") not in BASES:
            raise ModelNotAvailableError(
                f"{location.label}: not a PE-Rank checkpoint (its config's model_type is "
                f"{config.get('model_type')!r}, not {' or '.join(BASES)})"
            )
        missing = [key for key in ("encoder_name", "encoder_pooling", "embedding_size") if not config.get(key)]
        if missing:
            raise ModelNotAvailableError(
                f"{location.label}: its config names no {', '.join(missing)}, which a PE-Rank checkpoint's "
                "passages are encoded with"
            )
        if config["encoder_pooling"] not in POOLINGS:
            raise ModelNotAvailableError(
                f"{location.label}: encoder_pooling {config['encoder_pooling']!r} is not one PE-Rank computes "
                f"({', '.join(POOLINGS)})"
            )
        if options.quantize or options.adapter or options.adapters or location.adapter:
            raise OptionError(
                f"{location.label}: a PE-Rank checkpoint runs as saved (no quantize, no LoRA adapter); merge an "
                "adapter with the authors' code and save the merged folder"
            )

    @staticmethod
    def _encoder_and_projector_weights(location: ModelLocation) -> dict[str, Any]:
        wanted = (ENCODER_KEYS, PROJECTOR_KEYS)
        return dict(checkpoint_tensors(location, "PE-Rank checkpoint", lambda key: key.startswith(wanted)))

    def _encoder(
        self, location: ModelLocation, config: dict[str, Any], options: TransformersOptions, kept: dict[str, Any]
    ) -> tuple[Any, Any]:
        """The encoder `encoder_name` names (a registered name, a folder or a hub id in the cache), with the
        checkpoint's own encoder weights over its own when the checkpoint holds them (the authors save them)."""
        from transformers import AutoModel, AutoTokenizer

        where = resolve_model(config["encoder_name"])
        remote_code = refuse_remote_code(where, options.trust_remote_code)
        encoder = load_pretrained(AutoModel.from_pretrained, where, dtype=self.dtype, **remote_code)
        tokenizer = load_pretrained(AutoTokenizer.from_pretrained, where, **remote_code)
        own = {key[len(ENCODER_KEYS) :]: value for key, value in kept.items() if key.startswith(ENCODER_KEYS)}
        if own:
            result = encoder.load_state_dict(own, strict=False)
            parameters = dict(encoder.named_parameters())  # a pooler head is not read: last hidden states are
            missing = [name for name in result.missing_keys if name in parameters and not name.startswith("pooler.")]
            if missing or result.unexpected_keys:
                raise ModelNotAvailableError(
                    f"{location.label}: its encoder weights do not fit {config['encoder_name']!r} (missing "
                    f"{missing[:3]}, unexpected {result.unexpected_keys[:3]})"
                )
        return encoder.to(self.device, self.dtype).eval(), tokenizer

    def _projector(self, location: ModelLocation, config: dict[str, Any], hidden: int, kept: dict[str, Any]) -> Any:
        projector = build_projector(config.get("projector_type", "linear"), config["embedding_size"], hidden)
        own = {key[len(PROJECTOR_KEYS) :]: value for key, value in kept.items() if key.startswith(PROJECTOR_KEYS)}
        if list(projector.parameters()):
            if not own:
                raise ModelNotAvailableError(
                    f"{location.label}: no projector weights (model.projector.*) in the checkpoint"
                )
            try:
                projector.load_state_dict(own, strict=True)
            except RuntimeError as e:
                raise ModelNotAvailableError(
                    f"{location.label}: its projector weights do not fit projector_type "
                    f"{config.get('projector_type', 'linear')!r}: {e}"
                ) from None
        return projector.to(self.device, self.dtype).eval()

    def _decoder(self, location: ModelLocation, base: Any) -> Any:
        from transformers import AutoModelForCausalLM

        loaded: Any = load_pretrained(
            AutoModelForCausalLM.from_pretrained, location, config=base, dtype=self.dtype, output_loading_info=True
        )
        model, info = loaded
        if info.get("missing_keys"):
            raise ModelNotAvailableError(
                f"{location.label}: its weights lack the decoder's {sorted(info['missing_keys'])[:3]}"
            )
        return model.to(self.device).eval()

    def _passage_vectors(self, passages: Sequence[str]) -> torch.Tensor:
        """Each passage encoded alone, pooled as the authors' Encoder pools (by position: `cls` the first,
        `last_token` the last unpadded one), unit length, projected: [len(passages), hidden]."""
        torch = self._torch
        pad = self.encoder_tokenizer.pad_token_id
        rows = []
        for start in range(0, len(passages), ENCODER_BATCH):
            ids = self.encoder_tokenizer(
                list(passages[start : start + ENCODER_BATCH]),
                return_tensors="pt",
                padding="longest",
                max_length=ENCODER_MAX_TOKENS,
                truncation=True,
            ).input_ids.to(self.device)
            mask = ids.ne(pad)  # the authors' mask: the tokens that are not padding
            hidden = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
            if self.pooling == "mean":
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            elif self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                pooled = hidden[torch.arange(len(ids), device=ids.device), mask.sum(-1) - 1]
            rows.append(pooled)
            self.stats["encoder_passes"] += 1
        unit = torch.nn.functional.normalize(torch.cat(rows), p=2, dim=-1)
        return self.projector(unit)

    def rank_embedded(self, prompt: Sequence[int], passages: Sequence[str]) -> tuple[list[int], list[list[float]]]:
        torch = self._torch
        self._check_length(prompt)
        ids = torch.tensor([list(prompt)], device=self.device)
        slots = (ids[0] == self.placeholder_id).nonzero().flatten()
        if len(slots) != len(passages):
            raise InputError(f"the prompt holds {len(slots)} {PLACEHOLDER} tokens for {len(passages)} passages")
        order: list[int] = []
        steps: list[list[float]] = []
        if not passages:
            return order, steps
        decoder = self.model.model
        with torch.inference_mode():
            vectors = self._passage_vectors(passages).to(self.dtype)
            embeds = self.model.get_input_embeddings()(ids.masked_fill(ids == self.placeholder_id, 0))
            embeds[0, slots] = vectors
            out = decoder(inputs_embeds=embeds, use_cache=True)
            self.stats["forward_passes"] += 1
            self.stats["prompt_tokens"] += len(prompt)
            remaining = list(range(len(passages)))
            while remaining:
                check_cancelled()
                logits = (out.last_hidden_state[0, -1] @ vectors.T).float()  # the extended head's rows
                values = logits[remaining]
                best = remaining[int(values.argmax())]  # the first of equal maxima, as greedy search takes
                steps.append(values.tolist())
                order.append(best)
                remaining.remove(best)
                if remaining:
                    out = decoder(
                        inputs_embeds=vectors[best].view(1, 1, -1), past_key_values=out.past_key_values, use_cache=True
                    )
                    self.stats["decode_steps"] += 1
        return order, steps


def _base_fields(config: dict[str, Any]) -> dict[str, Any]:
    """The config's fields for the Mistral / Llama config it extends (the PE-Rank ones ride along unread)."""
    dropped = ("model_type", "architectures", "auto_map", "transformers_version")
    return {k: v for k, v in config.items() if k not in dropped}

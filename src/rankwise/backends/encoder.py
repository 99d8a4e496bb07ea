"""Text embeddings from a transformers encoder with sentence-transformers-compatible pooling.

The pooling mode, normalization and max length are read from the sentence-transformers metadata that
ships beside the weights, so a model gives the same vectors here as in sentence-transformers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from rankwise.backends.adapters import SwitchesAdapters
from rankwise.backends.interface import Capability, HFTokenCounting
from rankwise.backends.options import RuntimeOptions, TransformersOptions
from rankwise.backends.runtime import length_sorted_batches, load_tokenizer_and_model
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np
    import torch


def _unit_rows(vectors: torch.Tensor) -> np.ndarray:
    return (vectors / vectors.norm(dim=-1, keepdim=True).clamp(min=1e-12)).numpy()


# sentence-transformers' pooling modes, keyed by the boolean of older saves and most hub folders, in the order
# sentence-transformers concatenates them when several are on.
LEGACY_POOLING_KEYS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
POOLING_MODES = tuple(LEGACY_POOLING_KEYS.values())


def pooling_modes(config: dict[str, Any], location: ModelLocation) -> tuple[str, ...]:
    """The sentence-transformers pooling of a folder's `1_Pooling/config.json`, in either format: a
    `pooling_mode` string or list (sentence-transformers 6 saves) or the `pooling_mode_*` booleans (older saves);
    several modes are concatenated in that order, as sentence-transformers does. What rankwise does not
    compute is refused, never replaced by mean pooling, whose vectors would be another model's."""
    given = config.get("pooling_mode")
    if given is not None:
        modes = (given,) if isinstance(given, str) else tuple(given)
    else:
        modes = tuple(mode for key, mode in LEGACY_POOLING_KEYS.items() if config.get(key) is True)
        modes = modes or ("mean",)  # no metadata, or every boolean false: sentence-transformers' own default
    unknown = [mode for mode in modes if mode not in POOLING_MODES]
    if unknown or not modes:
        raise UnsupportedMethodError(
            f"{location.label}: its sentence-transformers pooling_mode {given!r} is not one rankwise computes "
            f"({', '.join(POOLING_MODES)}), and another pooling would give other vectors"
        )
    if config.get("include_prompt") is False:
        raise UnsupportedMethodError(
            f"{location.label}: its pooling leaves the prompt's tokens out (include_prompt false), which rankwise's "
            "text encoder does not do; pooling them in would give other vectors"
        )
    return modes


def stated_pooling(location: ModelLocation, given: str | None) -> tuple[str, ...]:
    """The folder's pooling (`pooling_modes`), or `given` for a folder that states none (a checkpoint saved by
    transformers alone, such as E2Rank's); `given` against a folder that states another is refused."""
    config = location.read_json("1_Pooling/config.json")
    if given is None:
        return pooling_modes(config or {}, location)
    stated = pooling_modes(config, location) if config is not None else None
    if stated is not None and stated != (given,):
        raise UnsupportedMethodError(
            f"{location.label}: pooling={given!r} was asked for, but the folder's sentence-transformers pooling is "
            f"{'+'.join(stated)}; drop the option (or the folder's 1_Pooling)"
        )
    return (given,)


def pool(mode: str, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One sentence-transformers pooling mode over `hidden` [batch, length, dim] where `mask` is 1."""
    import torch

    rows = torch.arange(hidden.shape[0], device=hidden.device)
    attended = mask.to(hidden.dtype).unsqueeze(-1)
    if mode == "cls":
        return hidden[rows, mask.to(torch.int).argmax(dim=1)]
    if mode == "lasttoken":
        last = hidden.shape[1] - 1 - mask.to(torch.int).flip(1).argmax(dim=1)
        return hidden[rows, last]
    if mode == "max":
        return hidden.masked_fill(attended == 0, float("-inf")).max(dim=1).values
    if mode == "weightedmean":
        first = mask.to(torch.int).argmax(dim=1)
        positions = torch.arange(1, hidden.shape[1] + 1, device=hidden.device, dtype=hidden.dtype)
        weights = attended * (positions.view(1, -1) - first.view(-1, 1).to(hidden.dtype)).unsqueeze(-1)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    total = (hidden * attended).sum(1)
    count = attended.sum(1).clamp(min=1e-9)
    return total / (count.sqrt() if mode == "mean_sqrt_len_tokens" else count)


def folder_prompts(location: ModelLocation) -> dict[str, str]:
    """The texts sentence-transformers puts before queries and documents for this folder
    (`config_sentence_transformers.json`), chosen as its `encode_query` and `encode_document` choose them: the
    `query` prompt; the first of `document`, `passage`, `corpus`; else the `default_prompt_name`'s; else none."""
    config = location.read_json("config_sentence_transformers.json") or {}
    prompts = config.get("prompts") or {}
    default = prompts.get(config.get("default_prompt_name") or "", "")
    document = next((prompts[name] for name in ("document", "passage", "corpus") if name in prompts), default)
    return {"query": prompts.get("query", default), "document": document}


class TextEncoder(HFTokenCounting, SwitchesAdapters):
    backend_name = "transformers"
    capabilities = frozenset({Capability.EMBED, Capability.TOKEN_EMBED})
    options: RuntimeOptions  # TransformersOptions here; the ONNX subclasses run with OnnxOptions

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        from transformers import AutoModel

        self.options = options
        self.tokenizer, self.model, self.device = load_tokenizer_and_model(AutoModel, location, options)
        self._configure(location, self.model.config)

    def _configure(self, location: ModelLocation, config: Any) -> None:
        """Pooling, normalization and length limit from the sentence-transformers metadata and the config."""
        import torch

        self.pooling = stated_pooling(location, getattr(self.options, "pooling", None))
        self.prompts = folder_prompts(location)
        modules = cast("list[dict[str, Any]]", location.read_json("modules.json") or [])
        self.normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
        st_config = location.read_json("sentence_bert_config.json") or {}
        model_limit = min(self.tokenizer.model_max_length, config.max_position_embeddings)
        self.max_length = self.options.max_length or st_config.get("max_seq_length") or model_limit
        self.hidden_size = config.hidden_size * len(self.pooling)  # the pooled vector: each mode's, concatenated
        self._torch = torch

    def chat_text(self, content: str) -> str:
        """`content` as one user turn through the tokenizer's chat template, with the generation prompt and
        thinking off (as E2Rank embeds its listwise pseudo-query); plain role-prefixed turns without one."""
        from rankwise.backends.chat_tokenizer import ChatTokenizer

        messages = [{"role": "user", "content": content}]
        return ChatTokenizer(self.tokenizer, "encoder").chat_prefix(messages, enable_thinking=False)

    def _hidden_states(self, encoded: Any) -> torch.Tensor:
        """The last hidden states of one tokenized batch (what another runtime replaces)."""
        return self.model(**encoded.to(self.device)).last_hidden_state

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalized (if the model says so) embeddings, in input order, as a float32 CPU tensor."""
        torch = self._torch
        if not texts:
            return torch.zeros((0, self.hidden_size))
        return self._embed(texts)

    def embed_unit(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings as a float32 numpy array, whatever the model's own normalization, so that
        dot products are cosines."""
        return _unit_rows(self.embed(texts))

    def embed_with_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """From one pass: unit-length pooled vectors, and per text the unit-length vectors of its content
        tokens (the tokenizer's special tokens left out), for late-interaction (MaxSim) scoring."""
        tokens: list = [None] * len(texts)
        pooled = self._embed(texts, tokens)
        return _unit_rows(pooled), tokens

    def _embed(self, texts: Sequence[str], tokens_out: list | None = None) -> torch.Tensor:
        torch = self._torch
        token_ids = self.tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        lengths = [len(ids) for ids in token_ids]
        over = [i for i, n in enumerate(lengths) if n > self.max_length]
        if over and not self.options.truncate:
            i = over[0]
            raise InputError(f"text {i} has {lengths[i]} tokens, over the limit of {self.max_length}")
        out = torch.empty((len(texts), self.hidden_size))
        batches = length_sorted_batches(
            [min(n, self.max_length) for n in lengths], self.options.batch_size, self.options.max_tokens_per_batch
        )
        with torch.inference_mode():
            for batch in batches:
                check_cancelled()
                encoded = self.tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                    return_special_tokens_mask=tokens_out is not None,
                )
                special = encoded.pop("special_tokens_mask", None)
                hidden = self._hidden_states(encoded)
                mask = encoded["attention_mask"].to(hidden.device)
                out[batch] = self._pool(hidden, mask).float().cpu()
                if tokens_out is not None:
                    keep = (mask.cpu() == 1) & (special == 0)
                    unit = torch.nn.functional.normalize(hidden.float().cpu(), p=2, dim=-1)
                    for row, i in enumerate(batch):
                        tokens_out[i] = unit[row][keep[row]].numpy()
        return out

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each mode of `self.pooling` over the attended tokens, concatenated, as sentence-transformers pools:
        `cls` the first attended token and `lasttoken` the last (either padding side), `max` the largest
        value per dimension, `mean` the mean (over the square root of the length for `mean_sqrt_len_tokens`),
        `weightedmean` a mean weighted by position (1, 2, ... from the first attended token)."""
        pooled = self._torch.cat([pool(mode, hidden, mask) for mode in self.pooling], dim=-1)
        if self.normalize:
            pooled = self._torch.nn.functional.normalize(pooled, p=2, dim=-1)
        return pooled

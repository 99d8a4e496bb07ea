"""ColBERT (late interaction) encoding of checkpoints in their own formats, as PyLate reads them:

- a PyLate / sentence-transformers folder: the transformer at the root, then the `Dense` projections that
  modules.json lists (each with its config.json and weights), and the ColBERT settings in
  config_sentence_transformers.json (query/document prefixes, lengths, expansion, skip-list);
- a colbert-ai (Stanford) folder: an `HF_ColBERT` model whose projection is the `linear.weight` tensor in its
  own weights file, and the settings in artifact.metadata (markers `[unused0]`/`[unused1]`).

Queries: tokenized to `query_length - 1` tokens, the query marker put after [CLS], padded with [MASK] to the
full length (query expansion); the [MASK] positions are not attended to (unless the checkpoint says so) but
their vectors are kept. Documents: cut to `document_length - 1` tokens, the document marker put after [CLS],
and the vectors of padding and of skip-list tokens (punctuation) dropped. Every vector is L2-normalized."""

from __future__ import annotations

import json
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from rankwise.backends.adapters import SwitchesAdapters
from rankwise.backends.interface import Capability, HFTokenCounting
from rankwise.backends.options import TransformersOptions
from rankwise.backends.runtime import checkpoint_file, length_sorted_batches, load_tokenizer_and_model
from rankwise.cancellation import check_cancelled
from rankwise.errors import ModelNotAvailableError
from rankwise.models.resolve import ModelLocation

if TYPE_CHECKING:
    import numpy as np

PYLATE_DENSE = "pylate.models.Dense.Dense"
ACTIVATIONS = {"torch.nn.modules.linear.Identity"}


@dataclass(frozen=True)
class ColBERTSettings:
    query_prefix: str
    document_prefix: str
    query_length: int
    document_length: int
    do_query_expansion: bool
    attend_to_expansion_tokens: bool
    skiplist_words: tuple[str, ...]
    source: str  # "PyLate" or "colbert-ai": which files they came from

    @classmethod
    def read(cls, location: ModelLocation) -> ColBERTSettings:
        config = location.read_json("config_sentence_transformers.json") or {}
        stanford = location.read_json("artifact.metadata")
        if stanford is not None and "query_prefix" not in config:
            # PyLate's defaults for a colbert-ai checkpoint, overridden by what its metadata records.
            return cls(
                query_prefix=stanford.get("query_token_id", "[unused0]"),
                document_prefix=stanford.get("doc_token_id", "[unused1]"),
                query_length=stanford.get("query_maxlen", 32),
                document_length=stanford.get("doc_maxlen", 180),
                do_query_expansion=True,
                attend_to_expansion_tokens=bool(stanford.get("attend_to_mask_tokens", False)),
                skiplist_words=tuple(string.punctuation),
                source="colbert-ai",
            )
        expansion = config.get("do_query_expansion", True)
        return cls(
            query_prefix=config.get("query_prefix", "[Q] "),
            document_prefix=config.get("document_prefix", "[D] "),
            query_length=config.get("query_length", 32),
            document_length=config.get("document_length", 180),
            do_query_expansion=expansion,
            attend_to_expansion_tokens=bool(config.get("attend_to_expansion_tokens", False)) and expansion,
            skiplist_words=tuple(config.get("skiplist_words", list(string.punctuation))),
            source="PyLate",
        )


def is_colbert_folder(location: ModelLocation) -> bool:
    """A PyLate folder (a PyLate Dense in modules.json) or a colbert-ai one (artifact.metadata)."""
    modules = cast("list[dict[str, Any]]", location.read_json("modules.json") or [])
    return any(m.get("type") == PYLATE_DENSE for m in modules) or location.read_json("artifact.metadata") is not None


class ColBERTEncoder(HFTokenCounting, SwitchesAdapters):
    backend_name = "transformers"
    capabilities = frozenset({Capability.MULTI_VECTOR})

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        import torch
        from transformers import AutoModel

        self._torch = torch
        self.options = options
        self.settings = ColBERTSettings.read(location)
        self.tokenizer, self.model, self.device = load_tokenizer_and_model(AutoModel, location, options)
        self.projections = self._projections(location)
        self.query_prefix_id = self._prefix_id(self.settings.query_prefix) if self.settings.query_prefix else None
        self.document_prefix_id = (
            self._prefix_id(self.settings.document_prefix) if self.settings.document_prefix else None
        )
        # PyLate pads with [MASK] (query expansion), else the end-of-sequence token.
        self.pad_id = next(
            i
            for i in (self.tokenizer.mask_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
            if i is not None
        )
        self.skiplist = [self.tokenizer.convert_tokens_to_ids(w) for w in self.settings.skiplist_words]
        limit = getattr(self.model.config, "max_position_embeddings", 512)
        self.max_length = min(options.max_length or self.settings.document_length, limit)
        self.stats: Counter[str] = Counter()

    def _prefix_id(self, prefix: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(prefix)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise ModelNotAvailableError(
                f"the tokenizer has no marker token {prefix!r}, which this ColBERT checkpoint's settings name"
            )
        return token_id

    def _projections(self, location: ModelLocation) -> list[Any]:
        """The checkpoint's linear projections, in order, as (weight, bias) tensors."""
        from safetensors.torch import load_file

        modules = cast("list[dict[str, Any]]", location.read_json("modules.json") or [])
        dense = [m for m in modules if m.get("type") == PYLATE_DENSE]
        if not dense and self.settings.source == "colbert-ai":
            weights = checkpoint_file(location, "model.safetensors", "ColBERT checkpoint")
            weight = load_file(str(weights))["linear.weight"]
            return [(weight.to(self.device), None)]
        projections = []
        for module in dense:
            config = json.loads(
                checkpoint_file(location, f"{module['path']}/config.json", "ColBERT checkpoint").read_text()
            )
            activation = config.get("activation_function", "torch.nn.modules.linear.Identity")
            if activation not in ACTIVATIONS or config.get("use_residual"):
                raise ModelNotAvailableError(
                    f"ColBERT projection {module['path']!r} uses {activation!r}"
                    f"{' with a residual' if config.get('use_residual') else ''}, which "
                    "rankwise does not apply"
                )
            state = load_file(
                str(checkpoint_file(location, f"{module['path']}/model.safetensors", "ColBERT checkpoint"))
            )
            projections.append(
                (
                    state["linear.weight"].to(self.device),
                    state["linear.bias"].to(self.device) if config.get("bias") else None,
                )
            )
        if not projections:
            raise ModelNotAvailableError(f"{location.label}: a ColBERT folder without a projection layer")
        return projections

    def _encoded(self, texts: Sequence[str], is_query: bool) -> dict[str, Any]:
        torch = self._torch
        settings = self.settings
        length = settings.query_length if is_query else min(settings.document_length, self.max_length)
        prefix_id = self.query_prefix_id if is_query else self.document_prefix_id
        self.tokenizer.pad_token_id = self.pad_id
        encoded = self.tokenizer(
            [t.strip() for t in texts],
            truncation="longest_first",
            return_tensors="pt",
            max_length=length - 1 if prefix_id is not None else length,
            padding="max_length" if is_query and settings.do_query_expansion else True,
        )
        if prefix_id is not None:

            def inserted(tensor: Any, value: int) -> Any:
                column = torch.full((tensor.size(0), 1), value, dtype=tensor.dtype)
                return torch.cat([tensor[:, :1], column, tensor[:, 1:]], dim=1)

            encoded["input_ids"] = inserted(encoded["input_ids"], prefix_id)
            encoded["attention_mask"] = inserted(encoded["attention_mask"], 1)
            if "token_type_ids" in encoded:
                encoded["token_type_ids"] = inserted(encoded["token_type_ids"], 0)
        if is_query and settings.attend_to_expansion_tokens:
            encoded["attention_mask"].fill_(1)
        return encoded

    def _vectors(self, texts: Sequence[str], is_query: bool) -> list[np.ndarray]:
        torch = self._torch
        out: list = [None] * len(texts)
        lengths = self.count_tokens(list(texts))
        for batch in length_sorted_batches(lengths, self.options.batch_size, self.options.max_tokens_per_batch):
            check_cancelled()
            encoded = self._encoded([texts[i] for i in batch], is_query)
            with torch.inference_mode():
                states = self.model(**{k: v.to(self.device) for k, v in encoded.items()}).last_hidden_state
                for weight, bias in self.projections:
                    states = torch.nn.functional.linear(states, weight, bias)
            self.stats["forward_passes"] += 1
            ids, mask = encoded["input_ids"], encoded["attention_mask"].bool()
            if is_query:
                keep = torch.ones_like(ids, dtype=torch.bool) if self.settings.do_query_expansion else mask
            else:
                keep = mask & ~torch.isin(ids, torch.tensor(self.skiplist, dtype=ids.dtype))
            for row, i in enumerate(batch):
                vectors = states[row][keep[row].to(states.device)].float()
                out[i] = torch.nn.functional.normalize(vectors, p=2, dim=1).cpu().numpy()
        return out

    def encode_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per query, its [query_length, d] unit vectors (expansion included)."""
        return self._vectors(texts, is_query=True)

    def encode_documents(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per document, the unit vectors of its kept tokens ([n, d])."""
        return self._vectors(texts, is_query=False)

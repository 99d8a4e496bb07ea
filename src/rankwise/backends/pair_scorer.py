"""Cross-encoder pair scoring with `AutoModelForSequenceClassification`.

A one-logit head gives its logit (`ScoreKind.LOGIT`; logits keep resolution at the extremes); a
two-logit head gives log P(relevant) from a softmax (`ScoreKind.LOG_PROBABILITY`), the relevant class
being the one the config labels as such, else index 1. Mapping to [0, 1] is the method's business; the
activation the folder asks for (sentence-transformers writes it into config.json) is read here as
`folder_activation`, with sentence-transformers' rule when it is absent (sigmoid for one logit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankwise.backends.adapters import SwitchesAdapters
from rankwise.backends.interface import Capability, HFTokenCounting
from rankwise.backends.options import RuntimeOptions, TransformersOptions
from rankwise.backends.runtime import length_sorted_batches, load_tokenizer_and_model
from rankwise.cancellation import check_cancelled
from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.models.resolve import ModelLocation
from rankwise.types import ScoreKind

RELEVANT_LABELS = ("relevant", "true", "yes", "positive", "entailment", "label_1")
# sentence-transformers' activation paths (config.json "sentence_transformers.activation_fn", or the v3 key
# "sbert_ce_default_activation_function") and what rankwise calls them.
FOLDER_ACTIVATIONS = {"torch.nn.modules.activation.Sigmoid": "sigmoid", "torch.nn.modules.linear.Identity": "none"}
TRUNCATIONS = ("longest_first", "only_second")


class PairScorer(HFTokenCounting, SwitchesAdapters):
    backend_name = "transformers"
    capabilities = frozenset({Capability.SCORE_PAIRS})
    options: RuntimeOptions  # TransformersOptions here; the ONNX subclasses run with OnnxOptions

    def __init__(self, location: ModelLocation, options: TransformersOptions):
        from transformers import AutoModelForSequenceClassification

        self.options = options
        self.tokenizer, self.model, self.device = load_tokenizer_and_model(
            AutoModelForSequenceClassification, location, options
        )
        self._configure(self.model.config)

    def _configure(self, config: Any) -> None:
        import torch

        if self.tokenizer.pad_token is None and self.tokenizer.eos_token is not None:
            # A decoder trained as a classifier (DeAR's Llama) pads with its end-of-text token, as its authors'
            # code sets it; the head reads the last token before the padding.
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if getattr(config, "pad_token_id", None) is None and self.tokenizer.pad_token_id is not None:
            config.pad_token_id = self.tokenizer.pad_token_id

        self.num_labels = config.num_labels
        self.score_kind = ScoreKind.LOGIT if self.num_labels == 1 else ScoreKind.LOG_PROBABILITY
        labels = {i: str(label).lower() for i, label in (config.id2label or {}).items()}
        self.relevant_index = next((i for i, label in labels.items() if label in RELEVANT_LABELS), 1)
        limit = min(self.tokenizer.model_max_length, getattr(config, "max_position_embeddings", 512))
        self.max_length = min(self.options.max_length or limit, limit)
        self.folder_activation = _folder_activation(config, self.num_labels)
        self._torch = torch

    def _logits(self, encoded: Any) -> Any:
        """The classifier's logits for one tokenized batch (what another runtime replaces)."""
        return self.model(**encoded.to(self.device)).logits

    def score(self, queries: Sequence[str], passages: Sequence[str], truncation: str = "longest_first") -> list[float]:
        """Score (query, passage) pairs. An over-long pair is cut as `truncation` says: `longest_first`
        (sentence-transformers' way: a token at a time from the longer of the two) or `only_second` (the
        passage only, the query whole)."""
        if truncation not in TRUNCATIONS:
            raise InputError(f"truncation must be one of {', '.join(TRUNCATIONS)}, got {truncation!r}")
        torch = self._torch
        if not passages:
            return []
        # verbose=False: measuring pairs longer than the limit is the point here (they are cut below), not a mistake.
        full = self.tokenizer(list(queries), list(passages), truncation=False, verbose=False)["input_ids"]
        lengths = [len(ids) for ids in full]
        for i, n in enumerate(lengths):
            if n > self.max_length and not self.options.truncate:
                raise InputError(f"pair {i} has {n} tokens, over the limit of {self.max_length}")
        scores = [0.0] * len(passages)
        batches = length_sorted_batches(
            [min(n, self.max_length) for n in lengths], self.options.batch_size, self.options.max_tokens_per_batch
        )
        with torch.inference_mode():
            for batch in batches:
                check_cancelled()
                encoded = self.tokenizer(
                    [queries[i] for i in batch],
                    [passages[i] for i in batch],
                    padding=True,
                    truncation=truncation,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self._logits(encoded).float()
                for i, value in zip(batch, self._to_scores(logits).tolist()):
                    scores[i] = value
        return scores

    def _to_scores(self, logits):
        if self.num_labels == 1:
            return logits[:, 0]
        return logits.log_softmax(-1)[:, self.relevant_index]


def _folder_activation(config: Any, num_labels: int) -> str:
    """The activation sentence-transformers' CrossEncoder applies to this folder's logits by default."""
    settings = getattr(config, "sentence_transformers", None) or {}
    path = settings.get("activation_fn") if isinstance(settings, dict) else None
    path = path or getattr(config, "sbert_ce_default_activation_function", None)
    if path is None:
        return "sigmoid" if num_labels == 1 else "none"
    if path not in FOLDER_ACTIVATIONS:
        raise UnsupportedMethodError(
            f"the model's config asks for activation {path!r}, which rankwise does not "
            f"apply; it knows {', '.join(FOLDER_ACTIVATIONS)} (pass activation='none' "
            "for raw logits)"
        )
    return FOLDER_ACTIVATIONS[path]

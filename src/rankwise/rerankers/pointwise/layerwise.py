"""Layerwise LLM reranking (BGE's bge-reranker-v2-minicpm-layerwise): the checkpoint has a relevance head on each
of its upper layers, so the score of the prompt can be read after any of them; a lower layer costs less and
scores a little worse (the model card's example reads layer 28 of 40). The prompt is FlagEmbedding's pair
layout ("A: query", "B: passage", the task), and the score is the head's raw logit at the prompt's last token,
as FlagEmbedding's LayerWiseFlagLLMReranker.compute_score gives it (its `normalize=True` is the sigmoid of it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, LayerHeadScoring
from rankwise.errors import OptionError
from rankwise.models.registry import LAYERWISE_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pair_template import PairTemplateEncoder
from rankwise.rerankers.prompts.pointwise import BGE_RERANKER_LAYERWISE, PairTemplate
from rankwise.types import Candidate, Query, ScoreKind


@dataclass(frozen=True)
class LayerwisePointwiseOptions:
    prompt: PairTemplate = option(
        BGE_RERANKER_LAYERWISE,
        named=prompts_of("layerwise-pointwise"),
        help="a prompt name or PairTemplate",
    )
    layer: int | None = option(
        None, minimum=1, help="the layer whose head scores (FlagEmbedding's cutoff_layers; default: the last)"
    )
    max_passage_tokens: int | None = option(None, minimum=1, help="passages are cut to this many tokens first")
    max_prompt_tokens: int | None = option(
        None, minimum=1, help="the pair's length limit (default: the template's, 512)"
    )


class LayerwisePointwiseReranker(PointwiseReranker):
    model_kinds = (LAYERWISE_LM,)
    method = "layerwise-pointwise"
    requires = frozenset({Capability.TOKENIZE, Capability.LAYER_HEAD})
    Options = LayerwisePointwiseOptions
    score_kind = ScoreKind.LOGIT

    def __init__(self, model: LayerHeadScoring, model_label: str, options: LayerwisePointwiseOptions):
        super().__init__(model_label)
        prompt, layer = options.prompt, options.layer
        max_passage_tokens, max_prompt_tokens = options.max_passage_tokens, options.max_prompt_tokens
        layers = model.head_layers
        self.layer = layers.stop - 1 if layer is None else layer
        if self.layer not in layers:
            raise OptionError(
                f"option layer={self.layer}: {model_label} has relevance heads at layers "
                f"{layers.start}..{layers.stop - 1} only"
            )
        self.model, self.prompt = model, prompt
        self.max_passage_tokens, self.max_prompt_tokens = max_passage_tokens, max_prompt_tokens
        self._encode = PairTemplateEncoder(model, prompt, max_prompt_tokens)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:
        sequences = []
        for query, candidate in pairs:
            passage = candidate.text
            if self.max_passage_tokens is not None:
                passage = self.model.text.truncate_text(
                    passage, self.max_passage_tokens, what=f"passage {candidate.docid!r}"
                )
            sequences.append(self._encode(query.text, passage, candidate.docid))
        return self.model.head_scores(sequences, self.layer).astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "layer": self.layer,
            "max_passage_tokens": self.max_passage_tokens,
            "max_prompt_tokens": self.max_prompt_tokens,
        }

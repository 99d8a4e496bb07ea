"""PE-Rank (Liu et al., "Leveraging Passage Embeddings for Efficient Listwise Reranking with Large Language
Models", WWW 2025; code: liuqi6777/pe_rank): listwise reranking where each passage is one token, its embedding
projected into the LLM's input space, and the ranking is decoded as those tokens, each once (the backend's
`rank_embedded`). A window of 20 costs a prompt of a few hundred tokens whatever the passages' length, and 20
decoding steps.

Windows slide as the authors' `ListwiseSilidingWindowReranker` slides them (20 by 10 over the top 100, as
`evaluate.py` runs it). `prompt=pe_rank` shows each passage as its token only (the authors' default,
`ListwiseEmbeddingRanker`); `pe_rank_text` adds the passage's text after its token (`ListwiseTextEmbeddingRanker`,
"[12]" in the text written "(12)"). Equal to the authors' code on a tiny seeded checkpoint in their saved format
(tests/reference/pe_rank_scores.py): the same orders, and each decoding step's logits within 1e-4. Scores are
ordinal; each window's decoded order (positions in the window) and step logits are in the trace."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, EmbeddingTokenRanking
from rankwise.models.registry import EMBEDDING_LM
from rankwise.options import option
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, Window, WindowResult
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.listwise import PE_RANK, numbers_escaped
from rankwise.rerankers.prompts.shapes import ListPrompt


@dataclass(frozen=True)
class PERankOptions:
    window: int = option(20, minimum=1, help="passages per prompt (the authors': 20)")
    stride: int = option(10, minimum=1, help="how far the window moves up each step (the authors': 10)")
    top_k: int = option(100, minimum=1, help="only the first stage's top k are reranked")
    prompt: ListPrompt = option(
        PE_RANK,
        named=prompts_of("pe-rank"),
        help="pe_rank (each passage as its embedding token) or pe_rank_text (the token, then the passage's text)",
    )


class PERankReranker(SlidingWindowReranker):
    model_kinds = (EMBEDDING_LM,)
    method = "pe-rank"
    requires = frozenset({Capability.TOKENIZE, Capability.EMBEDDING_TOKENS})
    Options = PERankOptions

    def __init__(self, backend: EmbeddingTokenRanking, model_label: str, options: PERankOptions):
        super().__init__(model_label, options.window, options.stride, options.top_k)
        self.backend, self.prompt = backend, options.prompt

    def _prompt_ids(self, window: Window) -> list[int]:
        shown = [numbers_escaped(text.strip()) for text in window.passages]  # the authors' _replace_number
        labels = [str(i + 1) for i in range(len(shown))]
        return self.backend.encode(self.prompt.prompt_text(self.backend.chat_prefix, window.query, labels, shown))

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        results = []
        for window in windows:
            order, steps = self.backend.rank_embedded(self._prompt_ids(window), window.passages)
            results.append(WindowResult(order, trace={"order": order, "step_logits": steps}))
        return results

    def describe(self) -> dict[str, Any]:
        names = {prompt: name for name, prompt in prompts_of("pe-rank").items()}
        return {**super().describe(), "prompt": names.get(self.prompt, "custom")}

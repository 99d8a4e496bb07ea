"""Fusion-in-Decoder listwise reranking as LiT5-Distill does it (not ListT5, which lists passages from least to
most relevant with its own template and tournament sort: the `listt5` method): each passage of a window is encoded
on its own as "Search Query: q Passage: [i] p Relevance Ranking: " (cut to `passage_tokens` tokens from its
end, as rank_llm's LiT5 tokenizes it), the decoder reads all of them at once and generates "[3] > [1] > ...",
parsed into a valid permutation. Sliding windows as the other listwise methods; passages prepared as rank_llm
0.26 prepares them (its first `passage_tokens` words, ftfy, numeric [n] escaped)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, Window, WindowResult
from rankwise.rerankers.prompts.listwise import identifiers, mentioned_positions, parse_permutation, rank_llm_passage
from rankwise.rerankers.prompts.seq2seq import LIT5
from rankwise.rerankers.prompts.shapes import check_template


@dataclass(frozen=True)
class FiDListwiseOptions:
    window: int = option(20, minimum=1, help="passages per window (LiT5 was trained on 20)")
    stride: int = option(10, minimum=1, help="how far the window moves up each step")
    top_k: int = option(100, minimum=1, help="only the first stage's top k are reranked")
    template: str = option(LIT5, help="each passage's source, with {query}, {label} and {passage}")
    passage_tokens: int = option(150, minimum=8, help="tokens per passage source (rank_llm's LiT5 context size)")


class FiDListwiseReranker(SlidingWindowReranker):
    model_kinds = (SEQ2SEQ_LM,)
    method = "fid-listwise"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = FiDListwiseOptions

    def __init__(self, backend: Seq2SeqScoring, model_label: str, options: FiDListwiseOptions):
        window, template, passage_tokens = options.window, options.template, options.passage_tokens
        super().__init__(model_label, window=window, stride=options.stride, top_k=options.top_k)
        check_template(template, ("query", "label", "passage"), "option template")
        self.backend, self.template, self.passage_tokens = backend, template, passage_tokens
        # rank_llm's LiT5 caps generation at the length, in characters, of the full answer "[1] > ... > [n]".
        self.max_length = len(" > ".join(f"[{i}]" for i in range(1, window + 1)))

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        sources, labels_of = [], []
        for window in windows:
            labels = identifiers("numeric", len(window.passages))
            labels_of.append(labels)
            sources.append(
                [
                    self.backend.encode_cut(
                        self.template.format(
                            query=window.query, label=label, passage=rank_llm_passage(text, self.passage_tokens)
                        ),
                        self.passage_tokens,
                    )
                    for label, text in zip(labels, window.passages)
                ]
            )
        results = []
        for labels, tokens in zip(labels_of, self.backend.generate_fused(sources, self.max_length)):
            response = self.backend.decode(tokens)
            results.append(
                WindowResult(
                    order=parse_permutation(response, labels),
                    trace={
                        "response": response,
                        "generated_tokens": len(tokens),
                        "identifiers_emitted": len(mentioned_positions(response, labels)),
                    },
                )
            )
        return results

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "template": self.template, "passage_tokens": self.passage_tokens}

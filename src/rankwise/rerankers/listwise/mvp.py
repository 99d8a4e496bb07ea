"""MVP (Na et al., "Multi-view-guided Passage Reranking with Large Language Models", EMNLP 2025;
Jun421/MVP-base, -3b; code: PirateEra/MVP): a non-generative Fusion-in-Decoder T5. Each of the query's first
`top_k` (100) passages is encoded alone as "<extra_id_0>...<extra_id_{v-1}> | Query: q | Context: p", the
encoder states of its `views` (4) markers kept as the passage's views. For each view, the decoder takes one
step from the pad token's embedding over that view's states of every passage (an "anchor"), a passage's
logit is the dot product of the anchor with its state, and the views' logits are averaged: the whole list
is ranked by one encoder pass per passage and one decoder step, with no sliding window and no generation.

Equal to the authors' `MVP.forward` / `generate_ranklist` (`inference/MVP.py`, run by their
`evaluation.py`) on a tiny seeded checkpoint saved by their own class (`tests/reference/mvp_scores.py`).
The ranking's scores are ordinal (the candidates after `top_k` keep their first-stage order below); the
logits are in `trace["logits"]`, by docid."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, Seq2SeqScoring
from rankwise.models.registry import SEQ2SEQ_LM
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.prompts.seq2seq import MVP
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class MVPOptions:
    views: int = option(4, minimum=1, help="view markers per passage (<extra_id_0>...; the released checkpoints: 4)")
    top_k: int = option(100, minimum=1, help="candidates ranked together in one decoder step (the rest follow)")
    passage_tokens: int = option(256, minimum=8, help="tokens per source (the authors' max_input_length, DL: 256)")
    template: str = option(MVP, help="each passage's source, with {markers}, {query} and {passage}")


class MVPReranker(BaseReranker):
    model_kinds = (SEQ2SEQ_LM,)
    method = "mvp"
    requires = frozenset({Capability.SEQ2SEQ})
    Options = MVPOptions
    score_kind = ScoreKind.ORDINAL  # count - rank; the logits are in the trace

    def __init__(self, backend: Seq2SeqScoring, model_label: str, options: MVPOptions):
        super().__init__(model_label)
        check_template(options.template, ("markers", "query", "passage"), "option template")
        self.backend, self.template, self.views = backend, options.template, options.views
        self.top_k, self.passage_tokens = options.top_k, options.passage_tokens
        self.markers = "".join(f"<extra_id_{v}>" for v in range(options.views))
        for v in range(options.views):
            backend.vocabulary_id(f"<extra_id_{v}>")  # refused at load when the tokenizer lacks a marker

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        rankings = []
        for request in requests:
            head = request.candidates[: self.top_k]
            sources = [
                self.backend.encode_cut(
                    self.template.format(markers=self.markers, query=request.query.text, passage=c.text.strip()),
                    self.passage_tokens,
                )
                for c in head
            ]
            logits = self.backend.multi_view_logits(sources, self.views).tolist() if head else []
            order = sorted(range(len(head)), key=lambda i: -logits[i]) + list(range(len(head), len(request.candidates)))
            n = len(order)
            trace = {"logits": {c.docid: float(x) for c, x in zip(head, logits)}}
            rankings.append(Ranking.from_order(request, order, [float(n - r) for r in range(n)], trace=trace))
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "views": self.views,
            "top_k": self.top_k,
            "passage_tokens": self.passage_tokens,
            "template": self.template,
        }

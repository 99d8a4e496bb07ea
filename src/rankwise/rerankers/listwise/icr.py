"""In-context reranking (ICR; Chen et al., "Attention in Large Language Models Yields Efficient Zero-Shot
Re-Rankers", ICLR 2025): every candidate in one prompt, the query last, and a passage's score is the
attention the query's tokens pay to its tokens, summed over layers and heads. Nothing is generated.

Calibration is the paper's default (`masked_NA_calibration`). The same prompt is read again with the
content-free query "N/A" over the same cached passage prefix. Per token, calibrated = attention(query) -
attention(N/A). Tokens whose calibrated value falls below the passage's mean minus two standard deviations
are masked out, and the score is the sum of the calibrated values over the remaining tokens. That is two
forward passes per query over the prefix, whatever the number of candidates, plus two short passes for the
two queries. Passage spans are exact because the prompt is assembled from separately encoded pieces.

Needs a backend with the `attention` capability (transformers, which switches the model to eager
attention for the query pass). Memory grows with `top_k` x `max_passage_tokens`. Candidates past `top_k`
follow in first-stage order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, AttentionReader, Capability
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.prompts.attention import ICR_CALIBRATION_QUERY, ICR_INSTRUCTION, ICR_LATE_INSTRUCTION
from rankwise.types import Ranking, Request, ScoreKind

PLACEHOLDER = "\x00"


@dataclass(frozen=True)
class ICROptions:
    top_k: int = option(20, minimum=1, help="candidates put in the prompt; the rest follow in first-stage order")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")
    calibrate: bool = option(True, help="subtract the content-free query's attention, with the paper's masking")


def calibrated_score(query_tokens: Any, na_tokens: Any) -> float:
    """Sum of (query - N/A) attention over a passage's tokens, leaving out those more than two standard
    deviations below the passage's mean calibrated value."""
    calibrated = query_tokens - na_tokens
    if len(calibrated) == 0:
        return 0.0
    threshold = calibrated.mean() - 2 * calibrated.std(ddof=1) if len(calibrated) > 1 else -float("inf")
    return float(calibrated[calibrated > threshold].sum())


class ICRReranker(HeadReranker):
    score_kind = ScoreKind.ORDINAL  # attention mass has no fixed scale across queries
    model_kinds = (CAUSAL_LM,)
    method = "icr"
    requires = LANGUAGE_MODEL | {Capability.ATTENTION}
    Options = ICROptions

    def __init__(self, lm: AttentionReader, model_label: str, options: ICROptions):
        super().__init__(model_label)
        self.lm = lm
        self.top_k, self.max_passage_tokens, self.calibrate = (
            options.top_k,
            options.max_passage_tokens,
            options.calibrate,
        )
        rendered = lm.chat_prefix([{"role": "user", "content": PLACEHOLDER}])
        self.template_head = rendered.split(PLACEHOLDER)[0]

    def prompt(self, query: str, passages: list[str]) -> tuple[list[int], list[tuple[int, int]], list[int]]:
        """(prefix ids, each passage's [start, end) span in them, the suffix ids holding the query)."""
        prefix = self.lm.encode(self.template_head + ICR_INSTRUCTION)
        spans = []
        for number, passage in enumerate(passages, start=1):
            label = self.lm.encode(f"\n\n[{number}] ")
            body = self.lm.encode(passage)
            start = len(prefix) + len(label)
            prefix += label + body
            spans.append((start, start + len(body)))
        return prefix, spans, self.query_suffix(query)

    def query_suffix(self, query: str) -> list[int]:
        return self.lm.encode(f"\n\n{ICR_LATE_INSTRUCTION}\n\nQuery: {query.strip()}")

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        prefix, spans, suffix = self.prompt(request.query.text, passages)
        suffixes = [suffix, self.query_suffix(ICR_CALIBRATION_QUERY)] if self.calibrate else [suffix]
        attention = self.lm.attention_to_prefix(prefix, suffixes)
        if self.calibrate:
            scores = [calibrated_score(attention[0, a:b], attention[1, a:b]) for a, b in spans]
            kind = "ICR: attention from the query minus from 'N/A', low-attention tokens masked"
        else:
            scores = [float(attention[0, a:b].sum()) for a, b in spans]
            kind = "ICR: attention from the query to the passage's tokens, summed over layers and heads"
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return Ranking.from_head(
            request, order, [scores[i] for i in order], trace={"score": kind, "prompt_tokens": len(prefix)}
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "top_k": self.top_k,
            "max_passage_tokens": self.max_passage_tokens,
            "calibrate": self.calibrate,
        }

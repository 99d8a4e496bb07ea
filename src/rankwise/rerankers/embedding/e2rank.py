"""E2Rank (Liu et al., "E2Rank: Your Text Embedding can Also be an Effective and Efficient Listwise
Reranker", 2025): an embedding model used as a listwise reranker. The query and its top-K candidates'
texts are written into one listwise prompt, the pseudo-query; it is embedded once, and every candidate is
scored by its cosine with it. The cost over `embedding` is one longer query encode.

The prompt is the authors' evaluation prompt for TREC DL (`src/eval.py` of Alibaba-NLP/E2Rank, `EVAL_PROMPTS
["dl19"]`): documents written as `[i] text` (from 1) joined by newlines, each first cut to 1024 words.

Two ways to run it:
- one pseudo-query per request from its first `prompt_k` candidates (in first-stage order), every candidate
  scored by its cosine with it (the default, and the only way a short encoder such as MiniLM can: the
  encoder is used as it is, `query_prefix` before the pseudo-query);
- `window=20, stride=10` (the `e2rank` preset): E2Rank's own evaluation (`EvalModel.__call__` under
  llm4ranking's sliding window, `window_size=20, step=10` over the top 100): each window's passages are
  reordered by their cosine with a pseudo-query written from that window, passages are embedded with
  `<|endoftext|>` appended (`passage_suffix`) and the pseudo-query through the checkpoint's chat template
  with thinking off (`chat_template`); the scores are then ranks (ordinal). The pooling (last token,
  normalized) comes from the checkpoint's sentence-transformers folder (`backends/encoder.py`).

A small encoder's limit (MiniLM: 256 tokens) holds far less than 20 passages: the query and template are
never cut (a query too long for them is an error), and the passages share the tokens left equally, a
passage shorter than its share giving the rest to the others. The trace says how many tokens each
pseudo-query passage kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import Capability, Embedder, TokenCounting
from rankwise.budget import OverBudget, fit
from rankwise.errors import InputError, UnsupportedMethodError
from rankwise.models.registry import TEXT_ENCODER
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.embedding.bi_encoder import EmbeddingOptions
from rankwise.rerankers.embedding.passage_vectors import PassageVectors, prefix_for
from rankwise.rerankers.listwise.sliding_window import Window, WindowResult, slide, window_schedule
from rankwise.rerankers.prompts.embedding import E2RANK_DL, E2RANK_PASSAGE
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.types import Candidate, Ranking, Request, ScoreKind


@dataclass(frozen=True)
class E2RankOptions(EmbeddingOptions):
    prompt_k: int = option(20, minimum=1, help="candidates (in first-stage order) written into the pseudo-query")
    prompt: str = option(E2RANK_DL, help="the pseudo-query's template, with {query} and {passages}")
    max_words: int = option(1024, minimum=1, help="words each pseudo-query passage is first cut to")
    window: int | None = option(
        None,
        minimum=2,
        help="sliding windows of this many candidates, each reordered by the cosine with its own pseudo-query "
        "(E2Rank's evaluation: 20); none: one pseudo-query scores every candidate",
    )
    stride: int = option(10, minimum=1, help="with window: how far each window moves up")
    top_k: int = option(100, minimum=1, help="with window: the candidates the windows reorder")
    chat_template: bool = option(
        False, help="embed the pseudo-query as a user turn of the tokenizer's chat template, thinking off"
    )
    passage_suffix: str = option("", help="text put after each passage embedded (E2Rank's: <|endoftext|>)")


def passage_list(texts: list[str]) -> str:
    """The authors' documents block: `[1] text`, `[2] text`, ... joined by newlines."""
    return "\n".join(E2RANK_PASSAGE.format(label=i, passage=text) for i, text in enumerate(texts, start=1))


class E2RankReranker(BaseReranker):
    model_kinds = (TEXT_ENCODER,)
    method = "e2rank"
    requires = frozenset({Capability.EMBED})
    Options = E2RankOptions
    score_kind = ScoreKind.COSINE  # with the pseudo-query's vector

    def __init__(self, encoder: Embedder, model_label: str, options: E2RankOptions):
        super().__init__(model_label)
        prompt, prompt_k, max_words = options.prompt, options.prompt_k, options.max_words
        if not isinstance(encoder, TokenCounting):
            raise UnsupportedMethodError(
                f"e2rank fits its pseudo-query into {model_label}'s token limit and "
                f"needs its tokenizer, which the {encoder.backend_name} backend has not"
            )
        check_template(prompt, ("query", "passages"), "e2rank's option prompt")
        if options.chat_template and not hasattr(encoder, "chat_text"):
            raise UnsupportedMethodError(
                f"e2rank's option chat_template needs the tokenizer's chat template, which the "
                f"{encoder.backend_name} backend of {model_label} does not give; run it on transformers"
            )
        if options.window is not None:
            window_schedule(options.window, options.window, options.stride)  # validates stride <= window
            self.score_kind = ScoreKind.ORDINAL  # ranks from the windows, not one comparable cosine
        self.encoder = encoder
        self.query_prefix = prefix_for(encoder, "query", options.query_prefix)
        self.prompt_k, self.prompt, self.max_words = prompt_k, prompt, max_words
        self.window, self.stride = options.window, options.stride
        # Only the windows leave candidates below top_k in input order; one pseudo-query scores them all.
        self.top_k = options.top_k if options.window is not None else None
        self.chat_template, self.passage_suffix = options.chat_template, options.passage_suffix
        self.passages = PassageVectors(
            encoder,
            model_label,
            prefix_for(encoder, "document", options.passage_prefix),
            options.index,
            suffix=options.passage_suffix,
        )
        # Content tokens the encoder accepts in one text: its limit less the special tokens it adds.
        self.token_budget = encoder.max_length - encoder.special_token_count()

    def _fill(self, query: str, texts: list[str]) -> str:
        # str.format reads fields in the template only: braces inside the query or a passage stay text.
        text = self.query_prefix + self.prompt.format(query=query, passages=passage_list(texts))
        return self.encoder.chat_text(text) if self.chat_template else text  # type: ignore[attr-defined]

    def pseudo_query(self, query: str, candidates: list[Candidate]) -> tuple[str, list[int]]:
        """The text embedded for `query` and its first `prompt_k` candidates, fitted into the encoder's limit,
        and how many tokens each of those passages kept."""
        counter: Any = self.encoder
        texts = [" ".join(c.text.split()[: self.max_words]) for c in candidates[: self.prompt_k]]
        lengths = counter.count_tokens(texts)
        text = self._fill(query, texts)
        if counter.count_tokens([text])[0] <= self.token_budget:
            return text, lengths
        fixed = counter.count_tokens([self._fill(query, [""] * len(texts))])[0]
        try:
            cap = max(fit(fixed, lengths, self.token_budget, "equal-share"), default=0)
        except OverBudget:
            raise InputError(
                f"e2rank: the query and prompt take {fixed} tokens, over {self.token_budget} the "
                "encoder accepts; the query is never cut (shorten it or pick a longer encoder)"
            ) from None
        while True:  # a cut can tokenize differently at its joins: shrink until the whole prompt fits
            kept = [counter.cut_to_tokens(t, cap) for t in texts]
            text = self._fill(query, kept)
            if counter.count_tokens([text])[0] <= self.token_budget or cap == 0:
                return text, [min(n, cap) for n in lengths]
            cap -= 1

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        if self.window is not None:
            return self._rerank_in_windows(requests)
        built = [self.pseudo_query(r.query.text, list(r.candidates)) for r in requests]
        queries = self.encoder.embed_unit([text for text, _ in built])
        passages, provenance = self.passages.pooled([c for r in requests for c in r.candidates])
        rankings, offset = [], 0
        for request, query, (_, kept) in zip(requests, queries, built):
            start, offset = offset, offset + len(request.candidates)
            scores = passages[start:offset] @ query
            trace = {
                "pseudo_query": {"docids": [c.docid for c in request.candidates[: self.prompt_k]], "tokens_kept": kept},
                **provenance.trace(start, offset),
            }
            rankings.append(Ranking.from_scores(request, scores.tolist(), trace=trace))
        return rankings

    def _rerank_in_windows(self, requests: list[Request]) -> list[Ranking]:
        """E2Rank's evaluation: every passage embedded once, each window reordered by the cosines with its
        own pseudo-query (the windows of different queries at one step embedded together)."""
        heads = [c for r in requests for c in r.candidates[: self.top_k]]
        vectors, _ = self.passages.pooled(heads)
        row_of = {id(c): i for i, c in enumerate(heads)}

        def rank_windows(windows: list[Window]) -> list[WindowResult]:
            built = [self.pseudo_query(w.query, w.candidates) for w in windows]
            queries = self.encoder.embed_unit([text for text, _ in built])
            results = []
            for window, query, (_, kept) in zip(windows, queries, built):
                scores = (vectors[[row_of[id(c)] for c in window.candidates]] @ query).tolist()
                # Sorted as torch's argsort(descending=True) in the authors' code; ties keep window order.
                order = sorted(range(len(scores)), key=lambda i: -scores[i])
                results.append(WindowResult(order, scores, {"tokens_kept": kept}))
            return results

        assert self.window is not None and self.top_k is not None
        return slide(requests, rank_windows, self.window, self.stride, self.top_k)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "prompt_k": self.prompt_k,
            "prompt": self.prompt,
            "max_words": self.max_words,
            "window": self.window,
            "stride": self.stride,
            "top_k": self.top_k,
            "chat_template": self.chat_template,
            "passage_suffix": self.passage_suffix,
            **self.passages.describe(),
        }

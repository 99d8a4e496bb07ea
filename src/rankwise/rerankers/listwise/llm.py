"""Listwise LLM reranking over sliding windows, decoded two ways:

- `listwise-generate` (RankGPT / RankZephyr): greedy generation of "[C] > [A] > ...", parsed into a
  permutation that is always valid; the raw response is kept in the trace.
- `first` (FIRST, single-token decoding): one forward pass per window, and the ranking is the order of
  the identifiers' probabilities of being emitted first. Nothing is generated.

How identifiers tokenize differs between models (SmolLM2 splits "[A]" into "[", "A", "]"; Qwen2.5
merges "[A" for most letters but splits "[O"), so FIRST works out, per model, which identifiers are
one merged token ("direct": P("[A")) and which need the bridge token ("bridged": P("[") * P("O" | "["),
read from one extra single-token step on the KV cache). When an identifier cannot be determined from
those tokens at all, it refuses with an error rather than falling back to generation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel
from rankwise.errors import InputError, OptionError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, Window, WindowResult
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.listwise import (
    RANK_ZEPHYR,
    SCORE_TEMPLATE,
    AnyListwisePrompt,
    identifiers,
    mentioned_positions,
    parse_numbers,
    parse_permutation,
)
from rankwise.rerankers.prompts.shapes import check_template
from rankwise.rerankers.shared.first_token import FirstTokenScheme
from rankwise.types import Ranking, Request


@dataclass(frozen=True)
class ListwiseOptions:
    window: int = option(20, minimum=1, help="passages per prompt")
    stride: int = option(10, minimum=1, help="how far the window moves up each step")
    top_k: int = option(100, minimum=1, help="only the first stage's top k are reranked")
    alphabet: Literal["alpha", "numeric"] = option("alpha", help="identifiers: [A] [B] ... or [1] [2] ...")
    prompt: AnyListwisePrompt = option(
        RANK_ZEPHYR,
        named=prompts_of("listwise"),
        help="a prompt name or a prompt object (rerankers/prompts/listwise.py)",
    )
    max_words: int = option(300, minimum=1, help="passages are cut to this many words (truncate=True)")
    show_first_stage_scores: bool = option(
        False, help="InsertRank: write each passage's first-stage score into its slot of the prompt (`score_template`)"
    )
    score_template: str = option(
        SCORE_TEMPLATE, help="a slot with its score: {passage} and {score} (a format spec such as {score:.2f} allowed)"
    )


@dataclass(frozen=True)
class ListwiseGenerateOptions(ListwiseOptions):
    answer_format: Literal["identifiers", "numbers"] = option(
        "identifiers",
        help="how the response is read: its [identifiers] (RankGPT, rank_llm), or every number after any "
        "</think> as a 1-based position (DeAR's parse_ranking_to_indices; numeric identifiers only)",
    )
    max_new_tokens: int | None = option(
        None, minimum=1, help="tokens generated per window (None: the full ranking's length + 8; DeAR: 1024)"
    )


class ListwiseLLMReranker(SlidingWindowReranker):
    """Prompt construction shared by both decodings."""

    model_kinds = (CAUSAL_LM,)
    reserve_tokens = 1
    Options = ListwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: ListwiseOptions):
        super().__init__(model_label, window=options.window, stride=options.stride, top_k=options.top_k)
        show_first_stage_scores, score_template = options.show_first_stage_scores, options.score_template
        if show_first_stage_scores:
            check_template(score_template, ("passage",), "option score_template", allowed=("score",))
            try:
                score_template.format(passage="", score=1.0)
            except (IndexError, ValueError) as error:
                raise OptionError(f"option score_template {score_template!r}: {error}") from None
        self.show_first_stage_scores, self.score_template = show_first_stage_scores, score_template
        self.lm = lm
        self.alphabet = options.alphabet
        identifiers(self.alphabet, self.window)  # validates the alphabet covers a full window
        self.prompt: AnyListwisePrompt = options.prompt
        self.max_words = options.max_words

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        if self.show_first_stage_scores:
            for request in requests:
                unscored = [c.docid for c in request.candidates[: self.top_k] if c.score is None]
                if unscored:
                    raise InputError(
                        f"show_first_stage_scores writes each passage's first-stage score into the "
                        f"prompt; candidate {unscored[0]!r} of query {request.query.qid!r} has none"
                    )
        return super()._rerank(requests)

    def slot_texts(self, window: Window, words: int) -> list[str]:
        """The passages as their prompt slots show them: prepared, and with InsertRank their scores."""
        passages = [self.prompt.prepare_passage(p, words) for p in window.passages]
        if not self.show_first_stage_scores:
            return passages
        scores = window.first_stage_scores or [None] * len(passages)
        if any(score is None for score in scores):
            raise InputError("show_first_stage_scores: a window's passages have no first-stage scores")
        return [self.score_template.format(passage=p, score=s) for p, s in zip(passages, scores)]

    def encode_window(self, window: Window) -> tuple[list[int], list[str]]:
        """Token ids of the window's prompt and its labels (see `window_prompt`)."""
        _, ids, labels = self.window_prompt(window)
        return ids, labels

    def window_prompt(self, window: Window) -> tuple[str, list[int], list[str]]:
        """The window's prompt as text and token ids, and its labels; passages shrink until the prompt fits the
        context, unless truncation is off (`truncate=False`): then a passage over `max_words` or a window over
        the context is an error."""
        labels = identifiers(self.alphabet, len(window.passages))
        words = self.max_words
        if not self.lm.text.truncate:
            for label, passage in zip(labels, window.passages):
                count = len(passage.split())
                if count > words:
                    raise InputError(
                        f"passage [{label}] of a window has {count} words, over max_words={words} (truncate=False)"
                    )
        while True:
            passages = self.slot_texts(window, words)
            text = self.prompt.chat_text(self.lm.chat_prefix, self.prompt.messages(window.query, labels, passages))
            ids = self.lm.encode(text)
            if getattr(self.prompt, "tokenized_with_defaults", False):
                ids = self.lm.default_prefix_ids() + ids
            if len(ids) + self.reserve_tokens <= self.lm.max_length:
                window.trace["words_per_passage"] = words
                return text, ids, labels
            if not self.lm.text.truncate:
                raise InputError(
                    f"a window of {len(labels)} passages takes {len(ids)} tokens, over the model's "
                    f"context of {self.lm.max_length} (truncate=False)"
                )
            if words <= 8:
                raise InputError(
                    f"a window of {len(labels)} passages does not fit the model's context of "
                    f"{self.lm.max_length} tokens even at {words} words per passage"
                )
            words = max(8, int(words * 0.75))

    def describe(self) -> dict[str, Any]:
        shown = (
            {"show_first_stage_scores": True, "score_template": self.score_template}
            if self.show_first_stage_scores
            else {}
        )
        return {**super().describe(), "alphabet": self.alphabet, "max_words": self.max_words, **shown}


class ListwiseGenerateReranker(ListwiseLLMReranker):
    method = "listwise-generate"
    requires = LANGUAGE_MODEL | {Capability.GENERATE}
    Options = ListwiseGenerateOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: ListwiseGenerateOptions):
        super().__init__(lm, model_label, options)
        if options.answer_format == "numbers" and self.alphabet != "numeric":
            raise OptionError("answer_format='numbers' reads 1-based positions: it needs alphabet='numeric'")
        self.answer_format = options.answer_format
        full = " > ".join(f"[{label}]" for label in identifiers(self.alphabet, self.window))
        self.max_new_tokens = options.max_new_tokens or len(self.lm.encode(full)) + 8
        self.reserve_tokens = self.max_new_tokens

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "answer_format": self.answer_format, "max_new_tokens": self.max_new_tokens}

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        encoded = [self.encode_window(w) for w in windows]
        outputs = self.lm.generate([ids for ids, _ in encoded], max_new_tokens=self.max_new_tokens)
        results = []
        for (_, labels), tokens in zip(encoded, outputs):
            response = self.lm.text.decode(tokens, skip_special_tokens=True)
            results.append(
                WindowResult(
                    order=(parse_numbers if self.answer_format == "numbers" else parse_permutation)(response, labels),
                    trace={
                        "response": response,
                        "generated_tokens": len(tokens),
                        "identifiers_emitted": len(mentioned_positions(response, labels)),
                    },
                )
            )
        return results


class FirstReranker(ListwiseLLMReranker):
    method = "first"
    requires = LANGUAGE_MODEL | {Capability.BRIDGED_FIRST_TOKEN}

    def __init__(self, lm: LanguageModel, model_label: str, options: ListwiseOptions):
        super().__init__(lm, model_label, options)
        self._schemes: dict[int, FirstTokenScheme] = {}
        self.scheme(self.window)  # fail at load time, not on the first query

    def scheme(self, size: int) -> FirstTokenScheme:
        if size not in self._schemes:
            self._schemes[size] = FirstTokenScheme.analyze(
                self.lm.text,
                identifiers(self.alphabet, size),
                lambda messages: self.prompt.chat_text(self.lm.text.chat_prefix, messages),
            )
        return self._schemes[size]

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        import numpy as np

        results: list[WindowResult | None] = [None] * len(windows)
        by_size: dict[int, list[int]] = {}
        for i, w in enumerate(windows):
            by_size.setdefault(len(w.passages), []).append(i)
        for size, members in by_size.items():
            scheme = self.scheme(size)
            sequences = [self.encode_window(windows[i])[0] for i in members]
            first, second = self.lm.first_token_logprobs(sequences, *scheme.request())
            for row, i in enumerate(members):
                logprobs = scheme.fill(np.empty(size, dtype=np.float64), first[row], second[row])
                order = sorted(range(size), key=lambda p: -logprobs[p])
                results[i] = WindowResult(order=order, scores=logprobs.tolist(), trace={"bridged": len(scheme.bridged)})
        return [result for result in results if result is not None]  # every window got one

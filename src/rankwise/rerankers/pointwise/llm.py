"""LLM relevance generation: ask whether the passage answers the query and read the answer from the
next-token distribution (no sampling, one forward pass per pair).

By default the prompt goes through the model's chat template and the score is log P(yes) - log P(no), each
side summed over the usual spellings ("Yes", " yes", ...). Checkpoints trained as rerankers (Qwen3-Reranker)
fix their own prompt byte for byte (a `SegmentedPrompt`) and one answer token each (`answer_tokens="yes,no"`),
and report P(yes) from a softmax over the two (`score="probability"`); their preset sets all three.

Explicit relevance feedback as in-context examples (`feedback_examples=k`): the passages the user marked
relevant for a query (its `feedback`) are shown before each other passage, up to k, each as the same prompt
answered "Yes", the few-shot reading of relevance feedback (Baumgärtner et al., EMNLP 2022, whose own method
is the kNN one, `feedback-knn`). A marked passage is never its own example."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union, cast

from rankwise.backends.interface import LANGUAGE_MODEL, Capability, LanguageModel, NextTokenLogits
from rankwise.budget import fit
from rankwise.errors import InputError, OptionError, UnsupportedMethodError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import PointwiseReranker
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pair_template import PairTemplateEncoder
from rankwise.rerankers.prompts.pointwise import RELEVANCE_YES_NO, PairTemplate, SegmentedPrompt
from rankwise.rerankers.prompts.shapes import ChatPrompt
from rankwise.rerankers.shared.answer_tokens import answer_token_pair
from rankwise.rerankers.shared.feedback import marked_passages
from rankwise.scoring import group_log_odds, sigmoid
from rankwise.types import Candidate, Query, Ranking, Request, ScoreKind

YES_WORDS = ("Yes", "yes", " Yes", " yes", "YES")
NO_WORDS = ("No", "no", " No", " no", "NO")


@dataclass(frozen=True)
class LLMPointwiseOptions:
    prompt: Union[ChatPrompt, SegmentedPrompt, PairTemplate] = option(
        RELEVANCE_YES_NO,
        named=prompts_of("llm-pointwise"),
        help="a prompt name, ChatPrompt, SegmentedPrompt or PairTemplate",
    )
    instruction: str | None = option(
        None, help="the task instruction of a prompt that takes one (default: the prompt's own)"
    )
    answer_tokens: str | None = option(
        None, help="'YES,NO': exactly these two vocabulary tokens (default: the usual spellings of yes and no, summed)"
    )
    score: Literal["log-odds", "probability", "raw-logit"] = option(
        "log-odds", help="log P(yes) - log P(no), P(yes) normalized over yes and no, or the raw logit of yes"
    )
    max_passage_tokens: int | None = option(300, minimum=1, help="passages are cut to this many tokens")
    max_prompt_tokens: int | None = option(
        None, minimum=1, help="a SegmentedPrompt's whole length; its body is cut to fit (default: the model's limit)"
    )
    feedback_examples: int = option(
        0,
        minimum=0,
        help="up to this many of the passages the user marked relevant (the request's feedback) shown before each "
        "other passage as solved examples: the same prompt, answered yes (chat prompts only)",
    )


class LLMPointwiseReranker(PointwiseReranker):
    model_kinds = (CAUSAL_LM,)
    method = "llm-pointwise"
    requires = LANGUAGE_MODEL
    Options = LLMPointwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: LLMPointwiseOptions):
        super().__init__(model_label)
        self.lm = lm
        self.prompt = prompt = options.prompt
        instruction, answer_tokens, score = options.instruction, options.answer_tokens, options.score
        max_passage_tokens, max_prompt_tokens = options.max_passage_tokens, options.max_prompt_tokens
        takes_instruction = isinstance(prompt, SegmentedPrompt) or (
            isinstance(prompt, PairTemplate) and bool(prompt.instruction_text)
        )
        if instruction is not None and not takes_instruction:
            raise OptionError("option instruction needs a prompt with an {instruction} slot (e.g. qwen3_reranker)")
        self.instruction = instruction
        self.takes_instruction = takes_instruction
        self.answer_tokens, self.score = answer_tokens, score
        self.max_passage_tokens, self.max_prompt_tokens = max_passage_tokens, max_prompt_tokens
        self.score_kind = {
            "probability": ScoreKind.PROBABILITY,
            "log-odds": ScoreKind.LOGIT,
            "raw-logit": ScoreKind.UNBOUNDED,
        }[score]
        if score == "raw-logit" and Capability.NEXT_TOKEN_LOGITS not in lm.capabilities:
            from rankwise.backends.registry import backends_with

            raise UnsupportedMethodError(
                f"score='raw-logit' reads a raw next-token logit, which backend "
                f"{lm.backend_name!r} does not offer; backends with it: "
                f"{', '.join(backends_with(Capability.NEXT_TOKEN_LOGITS))}"
            )
        self.feedback_examples = options.feedback_examples
        self.takes_feedback = self.feedback_examples > 0
        if self.feedback_examples and not isinstance(prompt, ChatPrompt):
            raise OptionError(
                "feedback_examples shows marked passages as earlier chat turns: it needs a chat prompt "
                "(relevance_yes_no or a ChatPrompt), not a checkpoint's fixed template"
            )
        self._examples: dict[int, list[tuple[str, str]]] = {}  # id(query) -> its marked (docid, passage)
        if answer_tokens is None:
            self.yes_ids = lm.text.single_token_ids(YES_WORDS)
            self.no_ids = lm.text.single_token_ids(NO_WORDS)
            if not self.yes_ids or not self.no_ids:
                raise UnsupportedMethodError(
                    f"{model_label}: the tokenizer has no single-token 'Yes'/'No', so log P(yes) - log P(no) "
                    "cannot be read from one next-token distribution"
                )
        else:
            self.yes_ids, self.no_ids = answer_token_pair(lm, answer_tokens, model_label, "'YES,NO'")

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        """With `feedback_examples`, each request's marked passages are set aside first, as its examples."""
        if not self.feedback_examples:
            return super()._rerank(requests)
        self._examples = {
            id(r.query): [(r.candidates[i].docid, self._cut(r.candidates[i])) for i in marked_passages(r)]
            for r in requests
        }
        try:
            return super()._rerank(requests)
        finally:
            self._examples = {}

    def _cut(self, candidate: Candidate) -> str:
        if self.max_passage_tokens is None:
            return candidate.text
        return self.lm.text.truncate_text(candidate.text, self.max_passage_tokens, what=f"passage {candidate.docid!r}")

    def _sequence(self, query: Query, candidate: Candidate) -> list[int]:
        passage = self._cut(candidate)
        if self._examples.get(id(query)):
            examples = [text for docid, text in self._examples[id(query)] if docid != candidate.docid]
            return self._chat_ids(query.text, passage, candidate.docid, None, examples[: self.feedback_examples])
        instruction = query.instruction if query.instruction is not None else self.instruction
        return ENCODERS[type(self.prompt)](self, query.text, passage, candidate.docid, instruction)

    def _chat_ids(
        self, query: str, passage: str, docid: str, instruction: str | None, examples: Sequence[str] = ()
    ) -> list[int]:
        """The chat prompt; each example before it as the same prompt over that passage, answered yes (the
        prompt's system turn, if any, once at the start)."""
        prompt = cast(ChatPrompt, self.prompt)  # ENCODERS chose this encoder by the prompt's type
        messages = prompt.messages(query=query, passage=passage)
        if examples:
            system, last = messages[:-1], messages[-1]
            shown = []
            for example in examples:
                shown += [prompt.messages(query=query, passage=example)[-1], {"role": "assistant", "content": "Yes"}]
            messages = system + shown + [last]
        return self.lm.encode(self.lm.chat_prefix(messages))

    def _segmented_ids(self, query: str, passage: str, docid: str, instruction: str | None) -> list[int]:
        prompt = cast(SegmentedPrompt, self.prompt)
        prefix, body, suffix = (self.lm.encode(part) for part in prompt.segments(query, passage, instruction))
        limit = self.max_prompt_tokens or self.lm.max_length
        fixed = len(prefix) + len(suffix)
        if fixed + len(body) > limit:
            if not self.lm.text.truncate or fixed >= limit:
                raise InputError(
                    f"the prompt for passage {docid!r} has "
                    f"{fixed + len(body)} tokens, over the limit of {max(limit, fixed)}"
                )
            # the end of the body is the passage's end: the template's suffix stays whole
            body = body[: fit(fixed, [len(body)], limit, "tail")[0]]
        return prefix + body + suffix

    @functools.cached_property
    def _pair_encoder(self) -> PairTemplateEncoder:
        return PairTemplateEncoder(self.lm, cast(PairTemplate, self.prompt), self.max_prompt_tokens, self.instruction)

    def _pair_ids(self, query: str, passage: str, docid: str, instruction: str | None) -> list[int]:
        return self._pair_encoder(query, passage, docid, instruction)

    def score_pairs(self, pairs: Sequence[tuple[Query, Candidate]]) -> list[float]:

        sequences = [self._sequence(query, candidate) for query, candidate in pairs]
        if self.score == "raw-logit":  # the checkpoint's own score: one token's raw logit
            logits = cast(NextTokenLogits, self.lm).next_token_logits(sequences, self.yes_ids[:1])
            return logits[:, 0].astype(float).tolist()
        log_probs = self.lm.next_token_logprobs(sequences, self.yes_ids + self.no_ids)
        odds = group_log_odds(log_probs, len(self.yes_ids))
        if self.score == "probability":  # softmax over [no, yes], as the checkpoints' own code computes it
            return sigmoid(odds).astype(float).tolist()
        return odds.astype(float).tolist()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "max_passage_tokens": self.max_passage_tokens,
            "answer_tokens": self.answer_tokens,
            "score": self.score,
            "instruction": self.instruction,
            "max_prompt_tokens": self.max_prompt_tokens,
            "feedback_examples": self.feedback_examples,
        }


ENCODERS = {
    ChatPrompt: LLMPointwiseReranker._chat_ids,
    SegmentedPrompt: LLMPointwiseReranker._segmented_ids,
    PairTemplate: LLMPointwiseReranker._pair_ids,
}

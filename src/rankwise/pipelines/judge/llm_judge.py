"""An LLM relevance judge over (query, passage) pairs: each pair's prompt (a `JudgePrompt`), a greedy answer,
the grade read from it, and, where the backend gives next-token log-probs, the grade's distribution read at
the position where the answer states it (the probabilities of the grade tokens there, renormalized): its
expected value and its argmax. Pairs are judged in batches; every judgment carries its evidence."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rankwise.backends.interface import Capability, LanguageModel
from rankwise.errors import InputError, OptionError
from rankwise.pipelines.progress import OnProgress
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.judge import JudgePrompt
from rankwise.scoring import group_shares

GradeFrom = Literal["argmax", "expected", "answer"]


@dataclass(frozen=True)
class Pair:
    qid: str
    query: str
    docid: str
    passage: str


@dataclass
class Judgment:
    """One pair's grade and why: what the model answered, the grade read from it, and the distribution."""

    qid: str
    docid: str
    grade: int
    prompt: str
    answer: str
    parsed: int
    valid: bool  # the answer stated a grade the prompt's patterns read
    distribution: dict[str, float] | None = None  # grade -> probability at the answer's grade token
    expected: float | None = None
    prompt_tokens: int = 0
    answer_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "extra"}
        return {**row, **self.extra}


class LLMJudge:
    """Judges pairs with `lm` (any backend that generates; one that also gives next-token log-probs yields
    the grade distributions). `grade_from` chooses the grade written to the qrels: the distribution's argmax
    (default), its expected value rounded, or the answer text; without log-probs it is always the text."""

    def __init__(
        self,
        lm: LanguageModel,
        model_label: str,
        prompt: str | JudgePrompt = "umbrela",
        grade_from: GradeFrom = "argmax",
        max_passage_tokens: int | None = 512,
    ):
        if isinstance(prompt, str):
            presets = prompts_of("judge")
            if prompt not in presets:
                raise OptionError(f"unknown judge preset {prompt!r}; choose {', '.join(presets)}")
            prompt = presets[prompt]
        if grade_from not in ("argmax", "expected", "answer"):
            raise OptionError(f"grade_from must be argmax, expected or answer, not {grade_from!r}")
        self.lm, self.model_label, self.prompt = lm, model_label, prompt
        self.grade_from, self.max_passage_tokens = grade_from, max_passage_tokens
        self.reads_log_probs = Capability.NEXT_TOKEN_LOGPROBS in getattr(lm, "capabilities", frozenset())
        self.grade_tokens = self._grade_tokens() if self.reads_log_probs else {}

    def _grade_tokens(self) -> dict[str, list[int]]:
        """Per grade word, the single tokens that spell it (with and without a leading space)."""
        found = {}
        for word in self.prompt.grades:
            ids = self.lm.text.single_token_ids([word, " " + word, word.capitalize(), " " + word.capitalize()])
            if ids:
                found[word] = sorted(set(ids))
        return found

    def judge(self, pairs: Sequence[Pair]) -> list[Judgment]:
        if not pairs:
            return []
        start = time.perf_counter()
        prompts = [self._prompt_ids(pair) for pair in pairs]
        answers = self.lm.generate(prompts, max_new_tokens=self.prompt.max_answer_tokens)
        texts = [self.lm.text.decode(a, skip_special_tokens=True) for a in answers]
        read = [self.prompt.parse(text) for text in texts]
        distributions = self._distributions(prompts, answers, texts, read)
        seconds = (time.perf_counter() - start) / len(pairs)
        return [
            self._judgment(pair, ids, answer, text, parsed, offset, distribution, seconds)
            for pair, ids, answer, text, (parsed, offset), distribution in zip(
                pairs, prompts, answers, texts, read, distributions
            )
        ]

    def _prompt_ids(self, pair: Pair) -> list[int]:
        passage = pair.passage
        if self.max_passage_tokens is not None:
            passage = self.lm.text.truncate_text(passage, self.max_passage_tokens, what=f"passage {pair.docid!r}")
        return self.lm.encode(self.lm.chat_prefix(self.prompt.messages(pair.query, passage)))

    def _distributions(
        self, prompts: list[list[int]], answers: list[list[int]], texts: list[str], read: list[tuple[int, int | None]]
    ) -> list[dict[str, float] | None]:
        """Where the answer states its grade, the grade tokens' probabilities at that position."""

        out: list[dict[str, float] | None] = [None] * len(prompts)
        if not self.grade_tokens:
            return out
        positions, rows = [], []
        for i, (ids, answer, (_, offset)) in enumerate(zip(prompts, answers, read)):
            if offset is None:
                continue
            k = self._token_at(answer, offset)
            if k is not None:
                positions.append(i)
                rows.append(list(ids) + list(answer[:k]))
        if not rows:
            return out
        words = list(self.grade_tokens)
        flat = [t for w in words for t in self.grade_tokens[w]]
        try:
            log_probs = self.lm.next_token_logprobs(rows, flat)
        except InputError:  # a server that lists too few top log-probs: the answer text decides
            return out
        import numpy as np

        sizes = [len(self.grade_tokens[w]) for w in words]
        for i, row in zip(positions, log_probs):
            shares = group_shares(row, sizes)
            out[i] = {w: float(p) for w, p in zip(words, shares)} if np.isfinite(shares).all() else None
        return out

    def _token_at(self, answer: list[int], offset: int) -> int | None:
        """The index of the answer token whose text covers character `offset` of the decoded answer."""
        decode = self.lm.text.decode
        for k in range(len(answer)):
            if len(decode(answer[: k + 1], skip_special_tokens=True)) > offset:
                return k
        return None

    def _judgment(
        self,
        pair: Pair,
        ids: list[int],
        answer: list[int],
        text: str,
        parsed: int,
        offset: int | None,
        distribution: dict[str, float] | None,
        seconds: float,
    ) -> Judgment:
        expected = None
        grade = parsed
        if distribution is not None:
            expected = sum(self.prompt.grades[w] * p for w, p in distribution.items())
            argmax = self.prompt.grades[max(distribution, key=lambda w: distribution[w])]
            grade = (
                argmax if self.grade_from == "argmax" else round(expected) if self.grade_from == "expected" else parsed
            )
        return Judgment(
            pair.qid,
            pair.docid,
            grade,
            self.prompt.name,
            text,
            parsed,
            offset is not None,
            distribution,
            expected,
            len(ids),
            len(answer),
            seconds,
            self.model_label,
        )


def open_judge(
    model: str,
    options: dict[str, Any],
    preset: str = "umbrela",
    grade_from: GradeFrom = "argmax",
    max_passage_tokens: int | None = 512,
) -> LLMJudge:
    """A judge on `model` (a registered name, path or Hugging Face id) with runtime options (backend,
    threads, ...); any backend that generates, the llama.cpp and OpenAI-compatible ones included."""
    from rankwise.backends.registry import locate, open_backend, split_options

    runtime, rest = split_options(options)
    if rest:
        raise OptionError(f"the judge takes runtime options only (backend, threads, ...), not {', '.join(rest)}")
    location = locate(model, runtime.backend)
    lm = open_backend(location, runtime, frozenset({Capability.GENERATE}), "judge")
    return LLMJudge(lm, location.label, preset, grade_from, max_passage_tokens)


def judge_into(
    judge: LLMJudge, pairs: Sequence[Pair], store: Any, batch_size: int = 8, on_progress: OnProgress | None = None
) -> int:
    """Judge `pairs` not yet in `store`, `batch_size` at a time, each batch on disk before the next starts;
    the qrels are rewritten after every batch. Returns how many were judged this run."""
    todo = [p for p in pairs if (p.qid, p.docid) not in store]
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        store.add(j.record() for j in judge.judge(batch))
        store.write_qrels()
        if on_progress is not None:
            on_progress(len(batch))
    store.write_qrels()
    return len(todo)

"""Reasoning rerankers: the thinking budget, where the answer is read, and the checkpoints' own prompts, on a
scripted language model (real SmolLM2 tokenizer, fixed generations) and end to end on SmolLM2."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FLEA_PASSAGES, FLEA_QUERY
from rankwise import Reranker
from rankwise.rerankers.prompts import RANK1
from rankwise.rerankers.reasoning_pointwise import ReasoningPointwiseReranker
from rankwise.rerankers.thinking import last_full_sentence


@pytest.fixture(scope="module")
def smollm_text():
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.models import resolve_model

    return ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")


class ScriptedLM:
    """A language model whose generations are fixed texts (cut at the budget like a real one) and whose answer
    distribution says P(true) = 0.8 everywhere; it records what it was asked."""

    backend_name = "scripted"
    max_length = 8192

    def __init__(self, text, generations):
        self.text, self.generations = text, generations
        self.generate_calls, self.scored = [], []

    def encode(self, text):
        return self.text.encode(text)

    def chat_prefix(self, messages, add_generation_prompt=True):
        return self.text.chat_prefix(messages, add_generation_prompt)

    def generate(self, sequences, max_new_tokens, stop_ids=()):
        self.generate_calls.append((len(sequences), max_new_tokens, tuple(stop_ids)))
        return [self.encode(self.generations[i % len(self.generations)])[:max_new_tokens]
                for i in range(len(sequences))]

    def next_token_logprobs(self, sequences, token_ids):
        self.scored.extend(list(s) for s in sequences)
        return np.log(np.tile([0.4, 0.1], (len(sequences), 1)))


def rank1_reference_prompt(query, doc_content, prompt=None):
    """ORACLE: orionw/rank1, rank1.py `Rank1.return_prompt`, as written there."""
    query = prompt.replace("FILL_QUERY_HERE", query) if prompt else query
    return "Determine if the following passage is relevant to the query. " \
           "Answer only with 'true' or 'false'.\n" \
           f"Query: {query}\n" \
           f"Passage: {doc_content}\n" \
           "<think>"  # force the model to start with this


def test_rank1_prompt_bytes_equal_its_authors_code():
    assert RANK1.prompt_text(None, FLEA_QUERY, FLEA_PASSAGES[1]) == rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[1])


def test_the_answer_is_read_right_after_the_think_block_the_model_closed(smollm_text):
    lm = ScriptedLM(smollm_text, ["Fleas live months. [B] > [A]</think> true and more text after", "No.</think>"])
    reranker = ReasoningPointwiseReranker(lm, "scripted", prompt=RANK1, reasoning_budget=64)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:2])
    prompt = rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[0])
    first = next(r for r in ranking.trace["reasoning"] if r["docid"] == "0")
    assert first["ended"] == "model" and first["reasoning"] == "Fleas live months. [B] > [A]"
    # The scored sequence is the prompt, then the generated tokens up to the one that completes "</think>".
    assert smollm_text.decode(lm.scored[0]) == prompt + "Fleas live months. [B] > [A]</think>"
    assert [r.score for r in ranking] == pytest.approx([0.8, 0.8])  # 0.4 / (0.4 + 0.1)
    assert ranking.score_kind.value == "probability" and ranking.trace["budget_hits"] == 0


def test_the_budget_is_enforced_exactly_and_the_block_closed_as_rank1_closes_it(smollm_text):
    long = "The passage talks about fleas. It says adult fleas live for months and that is " + "very " * 60
    lm = ScriptedLM(smollm_text, [long])
    reranker = ReasoningPointwiseReranker(lm, "scripted", prompt=RANK1, reasoning_budget=12)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES[:1])
    assert lm.generate_calls == [(1, 12, ())]  # "</think>" is several SmolLM2 tokens: no token stop
    entry = ranking.trace["reasoning"][0]
    assert entry["ended"] == "budget" and entry["reasoning_tokens"] == 12 and ranking.trace["budget_hits"] == 1
    cut = smollm_text.decode(smollm_text.encode(long)[:12])
    assert entry["reasoning"] == last_full_sentence(cut) == "The passage talks about fleas."
    assert smollm_text.decode(lm.scored[0]) == (rank1_reference_prompt(FLEA_QUERY, FLEA_PASSAGES[0])
                                               + "\nThe passage talks about fleas.\n</think>")


def test_budget_zero_thinks_not_at_all():
    reranker = Reranker.load("smollm2-135m", preset="rank1", reasoning_budget=0, batch_size=4)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert all(r["reasoning_tokens"] == 0 and r["reasoning"] == "" for r in ranking.trace["reasoning"])
    assert reranker.lm.stats["generate_calls"] == 0


@pytest.mark.parametrize("budget", [0, 32])
def test_real_smollm2_ranks_every_passage_deterministically(budget):
    reranker = Reranker.load("smollm2-135m", preset="rank1", reasoning_budget=budget, batch_size=4)
    first = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    second = reranker.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert sorted(first.docids) == [str(i) for i in range(len(FLEA_PASSAGES))]
    assert [r.score for r in first] == [r.score for r in second] and first.docids == second.docids
    assert all(0.0 <= r.score <= 1.0 for r in first)
    assert all(r["reasoning_tokens"] <= budget for r in first.trace["reasoning"])

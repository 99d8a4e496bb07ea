"""rankwise's rank_llm prompts against the messages rank-llm 0.26.0 itself builds (written by
tests/reference/rank_llm_prompts.py into rank_llm_0.26.0_prompts.json, since rank-llm 0.26 declares
Python >= 3.12 and cannot be a dependency here), byte for byte; and the same windows through a real chat
template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise.rerankers.listwise_prompt import PROMPTS, identifiers

REFERENCE = json.loads((Path(__file__).parent / "reference" / "rank_llm_0.26.0_prompts.json").read_text())
PROMPT_OF_TEMPLATE = {"rank_zephyr_template.yaml": "rank_zephyr_v026", "rank_zephyr_alpha_template.yaml":
                      "rank_zephyr_v026", "rank_gpt_template.yaml": "rank_gpt",
                      "reasonrank_template.yaml": "reasonrank"}


def _messages(case):
    prompt = PROMPTS[PROMPT_OF_TEMPLATE[case["template"]]]
    labels = identifiers("alpha" if case["use_alpha"] else "numeric", len(REFERENCE["passages"]))
    passages = [prompt.prepare_passage(p, case["max_words"]) for p in REFERENCE["passages"]]
    return prompt.messages(REFERENCE["query"], labels, passages)


def test_the_reference_file_comes_from_rank_llm_0_26():
    assert REFERENCE["library"] == "rank-llm 0.26.0" and len(REFERENCE["cases"]) == 6


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['template']}-alpha{c['use_alpha']}-"
                                                                  f"{c['max_words']}w")
def test_messages_equal_rank_llm_0_26_byte_for_byte(case):
    assert _messages(case) == case["messages"]


def test_the_trained_on_prompt_stays_the_default_and_differs_from_0_26():
    """RankZephyr and FIRST were trained on rank_llm's pre-YAML prompt; rank_llm 0.26 words it differently."""
    old = PROMPTS["rank_zephyr"].messages("q", ["A", "B"], ["first", "second"])[1]["content"]
    new = PROMPTS["rank_zephyr_v026"].messages("q", ["A", "B"], ["first", "second"])[1]["content"]
    assert "a alphabetical identifier []" in old and ".\n\n[A] first" in old and "Only respond with" in old
    assert "an alphabetical identifier []" in new and ".\n[A] first" in new and "Answer concisely" in new


def test_a_rank_gpt_window_reaches_the_model_as_rank_llm_sends_it():
    """The multi-turn conversation through SmolLM2's chat template: every turn in order, none merged."""
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.models import resolve_model

    text = ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")
    case = REFERENCE["cases"][3]
    rendered = text.chat_prefix(_messages(case))
    assert rendered == text.chat_prefix(case["messages"])
    assert rendered.count("<|im_start|>assistant\nReceived passage [") == 4

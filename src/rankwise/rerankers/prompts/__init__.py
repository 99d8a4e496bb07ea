"""Prompts as data, in one table keyed by family (the method that reads them) and name (what `-O prompt=NAME`
takes). The shapes and the placeholder names every template uses are in `shapes.py`; the prompts themselves
in a module per paradigm (pointwise, pairwise, listwise, seq2seq, embedding, attention, judge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rankwise.rerankers.prompts import attention, embedding, judge, listwise, pairwise, pointwise, seq2seq

PROMPTS: dict[str, dict[str, Any]] = {
    "llm-pointwise": {
        "relevance_yes_no": pointwise.RELEVANCE_YES_NO,
        "qwen3_reranker": pointwise.QWEN3_RERANKER,
        "mxbai_rerank_v2": pointwise.MXBAI_RERANK_V2,
        "bge_reranker_gemma": pointwise.BGE_RERANKER_GEMMA,
    },
    "layerwise-pointwise": {"bge_reranker_layerwise": pointwise.BGE_RERANKER_LAYERWISE},
    "query-likelihood": {"upr": pointwise.QUERY_GENERATION},
    "reasoning-pointwise": {"rank1": pointwise.RANK1, "relevance_reasoning": pointwise.RELEVANCE_REASONING},
    "graded-pointwise": {"graded_relevance": pointwise.GRADED_RELEVANCE, "tfrank": pointwise.TFRANK},
    "prp": {"prp": pairwise.PRP},
    "setwise": {"setwise": pairwise.SETWISE},
    "reasoning-setwise": {"rank_r1": pointwise.RANK_R1},
    "groupwise": {"group_grades": pointwise.GROUP_GRADES},
    # first, listwise-generate, reasoning-listwise and jointrank's block rankers read the same prompts
    "listwise": {
        "rank_zephyr": listwise.RANK_ZEPHYR,
        "rank_zephyr_v026": listwise.RANK_ZEPHYR_V026,
        "rank_gpt": listwise.RANK_GPT_V026,
        "rank_gpt_single_turn": listwise.RANK_GPT,
        "reasonrank": listwise.REASONRANK,
        "rank_vicuna": listwise.RANK_VICUNA,
        "rank_mistral_100": listwise.RANK_MISTRAL_100,
        "rank_vicuna_v026": listwise.RANK_VICUNA_V026,
        "rank_k": listwise.RANK_K,
        "dear_listwise": listwise.DEAR_LISTWISE,
    },
    # templates of the encoder-decoder methods (their `template` option takes the text itself)
    "seq2seq-pointwise": {"monot5": seq2seq.MONOT5, "rankt5": seq2seq.RANKT5},
    "seq2seq-pairwise": {"duot5": seq2seq.DUOT5},
    "fid-listwise": {"lit5": seq2seq.LIT5},
    "listt5": {"listt5": seq2seq.LISTT5},
    "pe-rank": {"pe_rank": listwise.PE_RANK, "pe_rank_text": listwise.PE_RANK_TEXT},
    "e2rank": {"e2rank_dl": embedding.E2RANK_DL},
    "icr": {
        "instruction": attention.ICR_INSTRUCTION,
        "late_instruction": attention.ICR_LATE_INSTRUCTION,
        "calibration_query": attention.ICR_CALIBRATION_QUERY,
    },
    "judge": {prompt.name: prompt for prompt in (judge.UMBRELA, judge.GRADED, judge.YES_NO)},
}


def prompts_of(family: str) -> Mapping[str, Any]:
    """A family's prompts by name (what a method's `prompt` option accepts)."""
    return PROMPTS[family]

"""Writes rank_llm_0.26.0_prompts.json: the chat messages rank-llm 0.26.0 builds for listwise windows, which
tests/test_rank_llm_prompts.py compares with rankwise's byte for byte.

rank-llm 0.26 declares Python >= 3.12, but its prompt code runs on 3.11 without its dependencies. Regenerate:

    pip install --no-deps --ignore-requires-python --target /tmp/rank_llm rank-llm==0.26.0
    pip install --no-deps --target /tmp/rank_llm ftfy dacite wcwidth
    PYTHONPATH=/tmp/rank_llm python tests/reference/rank_llm_prompts.py
"""

from __future__ import annotations

import json
from importlib import metadata, resources
from pathlib import Path

import yaml
from rank_llm.data import Candidate, Query, Result
from rank_llm.rerank.listwise.multiturn_listwise_inference_handler import MultiTurnListwiseInferenceHandler
from rank_llm.rerank.listwise.singleturn_listwise_inference_handler import SingleTurnListwiseInferenceHandler

OUT = Path(__file__).with_name("rank_llm_0.26.0_prompts.json")
QUERY = "how long do fleas [2] live"
PASSAGES = [
    "An adult flea usually lives two to three months, see [3].",
    "  Sourdough needs feeding with flour and water every day.  ",
    "The flea market on the harbour sells antiques and records " * 6,
    "Flea pupae can stay dormant in cocoons for up to a year.",
]
CASES = [
    ("rank_zephyr_template.yaml", SingleTurnListwiseInferenceHandler, False, 300),
    ("rank_zephyr_alpha_template.yaml", SingleTurnListwiseInferenceHandler, True, 300),
    ("rank_zephyr_template.yaml", SingleTurnListwiseInferenceHandler, False, 12),
    ("rank_gpt_template.yaml", MultiTurnListwiseInferenceHandler, False, 300),
    ("rank_gpt_template.yaml", MultiTurnListwiseInferenceHandler, True, 12),
    ("reasonrank_template.yaml", SingleTurnListwiseInferenceHandler, False, 300),
]


def main() -> None:
    templates = resources.files("rank_llm.rerank") / "prompt_templates"
    result = Result(
        query=Query(text=QUERY, qid="q1"),
        candidates=[
            Candidate(docid=f"d{i}", score=1.0 - i / 10, doc={"contents": text}) for i, text in enumerate(PASSAGES)
        ],
    )
    cases = []
    for name, handler_class, use_alpha, max_words in CASES:
        template = yaml.safe_load((templates / name).read_text())
        messages = handler_class(template).generate_prompt(
            result, rank_start=0, rank_end=len(PASSAGES), max_length=max_words, use_alpha=use_alpha
        )
        cases.append({"template": name, "use_alpha": use_alpha, "max_words": max_words, "messages": messages})
    OUT.write_text(
        json.dumps(
            {
                "library": f"rank-llm {metadata.version('rank-llm')}",
                "query": QUERY,
                "passages": PASSAGES,
                "cases": cases,
            },
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

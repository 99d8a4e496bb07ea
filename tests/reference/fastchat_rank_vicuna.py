"""Writes fastchat_0.2.36_rank_vicuna.json: RankVicuna's window prompts as rank_llm's RankVicuna code built
them (castorini/rank_llm, src/rank_llm/rank_vicuna.py before the YAML templates: `create_prompt` with
FastChat's `get_conversation_template`, which gives `vicuna_v1.1` to castorini/rank_vicuna_7b_v1), through
FastChat 0.2.36 itself. tests/test_rank_llm_prompts.py compares rankwise's `rank_vicuna` prompt with them.

The code below is that create_prompt for one window, with FastChat's own conversation object; it answers
after `conv.append_message(conv.roles[1], None)` (one space before "ASSISTANT:", as FastChat trains and as
rank_llm's later RankListwiseOSLLM renders), not the early file's `get_prompt() + " ASSISTANT:"`. Regenerate:

    pip install --no-deps --target /tmp/fastchat fschat==0.2.36
    PYTHONPATH=/tmp/fastchat python tests/reference/fastchat_rank_vicuna.py
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from fastchat.conversation import get_conv_template
from ftfy import fix_text

OUT = Path(__file__).with_name("fastchat_0.2.36_rank_vicuna.json")
QUERY = "how long do fleas [2] live"
PASSAGES = [
    "An adult flea usually lives two to three months, see [3] and [B].",
    "  Sourdough needs feeding with flour and water every day.  ",
    "The flea market on the harbour sells antiques and records " * 6,
    "Flea pupae can stay dormant in cocoons for up to a year \u2019til they hatch.",
]


def replace_number(s: str) -> str:
    return re.sub(r"\[(\d+)\]", r"(\1)", s)


def rank_vicuna_prompt(query: str, passages: list[str], max_length: int) -> str:
    num = len(passages)
    conv = get_conv_template("vicuna_v1.1")
    prefix = (
        f"I will provide you with {num} passages, each indicated by a numerical identifier []. Rank the "
        f"passages based on their relevance to the search query: {query}.\n"
    )
    input_context = f"{prefix}\n"
    for rank, content in enumerate(passages, start=1):
        content = content.replace("Title: Content: ", "").strip()
        content = " ".join(content.split()[: int(max_length)])
        input_context += f"[{rank}] {replace_number(content)}\n"
    input_context += (
        f"Search Query: {query}.\nRank the {num} passages above based on their relevance to the "
        "search query. All the passages should be included and listed using identifiers, in "
        "descending order of relevance. The output format should be [] > [], e.g., [4] > [2], "
        "Only respond with the ranking results, do not say any word or explain."
    )
    conv.append_message(conv.roles[0], input_context)
    conv.append_message(conv.roles[1], None)
    return fix_text(conv.get_prompt())


def main() -> None:
    cases = [{"max_words": words, "prompt": rank_vicuna_prompt(QUERY, PASSAGES, words)} for words in (300, 12)]
    OUT.write_text(
        json.dumps(
            {"library": f"fschat {metadata.version('fschat')}", "query": QUERY, "passages": PASSAGES, "cases": cases},
            indent=1,
            ensure_ascii=False,
        )
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

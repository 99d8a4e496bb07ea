"""Writes fullrank_rank_mistral_100.json: RankMistral100's window prompts (liuwenhan/RankMistral100; Liu et al.,
"Sliding Windows Are Not the End", ACL 2025) as RUC-NLPIR/fullrank builds them: `create_prompt` of
rerank/rank_listwise_os_llm.py with utils.py's `add_prefix_prompt`, `add_post_prompt` (prompt_mode rank_GPT,
variable_passages) and `convert_doc_to_prompt_content` (truncate_by_word), the system message of
run_rank_llm.py's arguments, and FastChat's `get_conversation_template`, which gives the `mistral` template
to a model path holding "mistral" (trained_models/RankMistral100), through FastChat 0.2.36 itself.

The functions are read from a checkout of fullrank (`git show`, so a bare mirror from `fetch` works) and run
as they are; `create_prompt`'s body is repeated below for one window (its length loop never shrinks a
passage here: the windows fit the 32768-token context). Regenerate:

    pip install --no-deps --target /tmp/fastchat fschat==0.2.36
    PYTHONPATH=/tmp/fastchat python tests/reference/fullrank_rank_mistral_100.py /work/.mirror/RUC-NLPIR+fullrank/repo
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from enum import Enum
from importlib import metadata
from pathlib import Path

from fastchat.model.model_adapter import get_conversation_template
from ftfy import fix_text

OUT = Path(__file__).with_name("fullrank_rank_mistral_100.json")
QUERY = "how long do fleas [2] live "
PASSAGES = [
    "An adult flea usually lives two to three months, see [3] and [B].",
    "  Sourdough needs feeding with flour and water every day.  ",
    "The flea market on the harbour sells antiques and records " * 12,
    "Flea pupae can stay dormant in cocoons for up to a year \u2019til they hatch.",
]


def fullrank_functions(mirror: str) -> tuple[dict, str, str]:
    """utils.py's prompt functions, run_rank_llm.py's default system message, and the commit."""
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    utils = subprocess.run([*git, "show", "HEAD:utils.py"], capture_output=True, text=True, check=True).stdout
    tree = ast.parse(utils)
    wanted = ("add_prefix_prompt", "add_post_prompt", "convert_doc_to_prompt_content", "replace_number")
    source = "\n\n".join(
        ast.get_source_segment(utils, n) or "" for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted
    )

    class PromptMode(Enum):  # rerank/rankllm.py's, whose str() is its value
        RANK_GPT = "rank_GPT"
        RANK_GPT_new = "rank_GPT_new"

        def __str__(self) -> str:
            return self.value

    namespace: dict = {"re": re, "fix_text": fix_text, "PromptMode": PromptMode, "Dict": dict, "Any": object}
    exec(source, namespace)
    runner = subprocess.run([*git, "show", "HEAD:run_rank_llm.py"], capture_output=True, text=True, check=True).stdout
    system = re.search(r"system_message: str = field\(default='([^']*)'", runner)
    assert system is not None
    return namespace, system.group(1), commit


def create_prompt(f: dict, system: str, query: str, passages: list[str], max_length: int) -> str:
    """rank_listwise_os_llm.py create_prompt for one window (prompt_mode "rank_GPT", variable_passages)."""
    query = f["replace_number"](query).strip()  # RankListwiseOSLLM._replace_number
    num = len(passages)
    conv = get_conversation_template("trained_models/RankMistral100")
    conv.set_system_message(system)
    prefix = f["add_prefix_prompt"](promptmode="rank_GPT", query=query, num=num)
    input_context = f"{prefix}\n"
    for rank, doc in enumerate(passages, start=1):
        content = f["convert_doc_to_prompt_content"](None, {"text": doc}, max_length, truncate_by_word=True)
        input_context += f"[{rank}] {content}\n"
    input_context += f["add_post_prompt"](promptmode="rank_GPT", variable_passages=True, query=query, num=num)
    conv.append_message(conv.roles[0], input_context)
    conv.append_message(conv.roles[1], None)
    return fix_text(conv.get_prompt())


def main() -> None:
    functions, system, commit = fullrank_functions(sys.argv[1])
    cases = [
        {"max_words": words, "prompt": create_prompt(functions, system, QUERY, PASSAGES, words)} for words in (100, 12)
    ]
    OUT.write_text(
        json.dumps(
            {
                "library": f"fschat {metadata.version('fschat')}",
                "fullrank_commit": commit,
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

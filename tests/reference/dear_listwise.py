"""Reference prompts of DeAR's listwise reranker (DataScienceUIBK/DeAR-Reranking `listwise_rerank/prompts.py`:
`build_messages`, as `pipeline.permutation_once` calls it with `max_passage_tokens` 300, the value
`run_listwise.sh` passes) and its answer reading (`extract_after_think`, `parse_ranking_to_indices`), written to
dear_listwise.json for tests/test_rank_llm_prompts.py.

    python tests/reference/dear_listwise.py /work/.mirror/DataScienceUIBK+DeAR-Reranking/repo

`prompts.py` is read from the repository (`git show`, so a bare mirror from `fetch` works) and run as it is
(it imports only `re` and `typing`)."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUERY = "how long do fleas live [2]?"
PASSAGES = [
    "Title: Content: Adult fleas live two to three months.",
    "  Flea pupae can stay   dormant\n\nfor up to a year [3], see [B].  ",
    " ".join(f"word{i}" for i in range(320)),
    "The flea market sells records.",
]
RESPONSES = [
    "[2] > [1] > [4] > [3]",
    "<think>Passage [1] answers; step 2 of 3.</think>\n[4] > [1]",
    "2 3 3 9 1",
    "no ranking here",
]


def main() -> None:
    mirror = sys.argv[1]
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    path = "listwise_rerank/prompts.py"
    source = subprocess.run([*git, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("prompts")
    exec(compile(source, path, "exec"), module.__dict__)
    hits = [{"content": p} for p in PASSAGES]
    cases = [
        {
            "passages": PASSAGES[:count],
            "messages": module.build_messages(QUERY, hits[:count], max_tokens_per_passage=300),
        }
        for count in (1, 4)
    ]
    answers = [
        {"response": r, "order": module.parse_ranking_to_indices(module.extract_after_think(r), n=4)} for r in RESPONSES
    ]
    out = {
        "reference": f"DataScienceUIBK/DeAR-Reranking {commit} ({path}: build_messages, extract_after_think, "
        "parse_ranking_to_indices)",
        "query": QUERY,
        "cases": cases,
        "answers": answers,
    }
    (HERE / "dear_listwise.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

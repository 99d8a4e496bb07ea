"""Reference scores of DeAR's pointwise rerankers (DataScienceUIBK/DeAR-Reranking, `simple_rerank.py`:
`load_ranker` then `rerank`, the code its README gives for abdoelsayed/dear-*-reranker-ce-v1 and -ranknet-v1) on
the tiny seeded Llama classifier that tests/test_cross_encoder.py builds; written to dear_pointwise.json.

    python tests/reference/dear_pointwise.py /work/.mirror/DataScienceUIBK+DeAR-Reranking/repo

The two functions are read from the repository (`git show`, so a bare mirror from `fetch` works) and run as
they are, in float32 on the CPU (`torch_dtype="float32"`); the documents have no title, as rankwise's
candidates, so each is "document:  " + passage (the empty title and its space)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import tiny_models
    from test_cross_encoder import DEAR_PASSAGES, DEAR_QUERY

    mirror = sys.argv[1]
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    source = subprocess.run([*git, "show", "HEAD:simple_rerank.py"], capture_output=True, text=True, check=True).stdout
    wanted = {"DTYPE", "load_ranker", "rerank"}
    nodes = [
        n
        for n in ast.parse(source).body
        if (isinstance(n, ast.FunctionDef) and n.name in wanted)
        or (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name) and n.targets[0].id in wanted)
    ]
    namespace = {
        "torch": torch,
        "AutoTokenizer": AutoTokenizer,
        "AutoModelForSequenceClassification": AutoModelForSequenceClassification,
        "PeftConfig": PeftConfig,
        "PeftModel": PeftModel,
    }
    exec(
        "from typing import List, Tuple\n" + "\n\n".join(ast.get_source_segment(source, n) or "" for n in nodes),
        namespace,
    )
    folder = tiny_models.llama_sequence_classifier(Path(tempfile.mkdtemp()) / "dear", tiny_models.qwen_tokenizer())
    tokenizer, model, device = namespace["load_ranker"](str(folder), torch_dtype="float32", device="cpu")
    ranked = namespace["rerank"](tokenizer, model, device, DEAR_QUERY, [("", p) for p in DEAR_PASSAGES], batch_size=3)
    scores = dict(ranked)
    out = {"commit": commit, "query": DEAR_QUERY, "scores": [scores[i] for i in range(len(DEAR_PASSAGES))]}
    (HERE / "dear_pointwise.json").write_text(json.dumps(out, indent=1) + "\n")
    print(out)


if __name__ == "__main__":
    main()

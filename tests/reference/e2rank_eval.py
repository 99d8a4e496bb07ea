"""Reference ranking of Alibaba-NLP/E2Rank's own evaluation (`src/eval.py`, `EvalModel.__call__` with
rank_method "listwise") under llm4ranking's sliding window (`ListwiseSlidingWindow.rerank`, window_size 20,
step 10, as eval.py's `simple_evaluate` runs it), on the tiny seeded E2Rank-shaped folder that
tests/test_e2rank.py builds; written to e2rank_eval.json.

    python tests/reference/e2rank_eval.py /work/.mirror/Alibaba-NLP+E2Rank/repo /work/.mirror/liuqi6777+llm4ranking/repo

Both repositories' code is read with `git show` (a bare mirror from `fetch` works) and run as it is: the
`EvalModel` class and the `ListwiseSlidingWindow` class, taken out of their modules by name. vLLM does not
run here, so `LLM.embed` is replaced by what its README configures (`PoolerConfig(pooling_type="LAST",
normalize=True)`): each text tokenized alone as vLLM does (special tokens added), the last token's hidden
state, L2-normalized."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def source_of(mirror: str, path: str, *names: str) -> tuple[str, str]:
    """The source of the top-level classes and assignments `names` in `path` at the mirror's HEAD, and that
    commit."""
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    text = subprocess.run([*git, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout

    def named(node: ast.stmt) -> str | None:
        if isinstance(node, ast.ClassDef):
            return node.name
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
        return None

    nodes = {named(n): n for n in ast.parse(text).body}
    return "\n\n".join(ast.get_source_segment(text, nodes[name]) or "" for name in names), commit


class VllmLikeEmbedder:
    """`LLM.get_tokenizer()` and `LLM.embed(...)` over transformers, pooled LAST and normalized."""

    def __init__(self, folder: Path):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.torch = torch
        self.queries: list[str] = []  # eval.py embeds each pseudo-query alone, as a str

    def get_tokenizer(self):
        return self.tokenizer

    def embed(self, texts, use_tqdm=False):
        torch = self.torch
        outputs = []
        if isinstance(texts, str):
            self.queries.append(texts)
        for text in [texts] if isinstance(texts, str) else texts:
            ids = torch.tensor([self.tokenizer(text, add_special_tokens=True)["input_ids"]])
            with torch.inference_mode():
                hidden = self.model(input_ids=ids).last_hidden_state[0, -1]
            vector = torch.nn.functional.normalize(hidden.float(), p=2, dim=-1)
            outputs.append(SimpleNamespace(outputs=SimpleNamespace(embedding=vector.tolist())))
        return outputs


def main() -> None:
    from test_e2rank import E2RANK_QUERY, e2rank_passages, tiny_e2rank_folder

    e2rank_mirror, llm4ranking_mirror = sys.argv[1], sys.argv[2]
    eval_model, e2rank_commit = source_of(e2rank_mirror, "src/eval.py", "EVAL_PROMPTS", "EvalModel")
    sliding, llm4ranking_commit = source_of(
        llm4ranking_mirror, "src/llm4ranking/strategy/base.py", "ListwiseSlidingWindow"
    )
    import copy
    import time

    import torch

    class RerankStrategy:  # the base class's bookkeeping, without records
        def validate_ranking_model(self, ranking_func):
            pass

        def _create_record(self, **kwargs):
            return None, time.time()

        def _finalize_record(self, **kwargs):
            pass

    namespace = {
        "torch": torch,
        "time": time,
        "copy": copy,
        "encode_doc_times": [],
        "encode_query_times": [],
        "RerankStrategy": RerankStrategy,
        "RerankResult": lambda **kwargs: SimpleNamespace(**kwargs),
        "ListwisePolicy": object,
    }
    exec("from typing import Any, Optional\n" + eval_model + "\n\n" + sliding, namespace)

    folder = tiny_e2rank_folder(Path(tempfile.mkdtemp()) / "e2rank")
    embedder = VllmLikeEmbedder(folder)
    model = namespace["EvalModel"](embedder, rank_method="listwise", num_input_docs=20)
    model.set_prompt_template("dl19")
    passages = e2rank_passages()
    result = namespace["ListwiseSlidingWindow"]().rerank(
        query=E2RANK_QUERY,
        candidates=passages,
        ranking_func=SimpleNamespace(rank=model),  # eval.py's ranking_func is the model's __call__
        window_size=20,
        step=10,
    )
    out = {
        "e2rank_commit": e2rank_commit,
        "llm4ranking_commit": llm4ranking_commit,
        "query": E2RANK_QUERY,
        "order": list(result.indices),
        "pseudo_queries": embedder.queries,  # one per window, in processing order
    }
    (HERE / "e2rank_eval.json").write_text(json.dumps(out, indent=1) + "\n")
    print(out["order"])


if __name__ == "__main__":
    main()

"""Reference rankings of ListT5's tournament sort (Soyoung97/ListT5 `run_listt5.py`,
`ListT5Evaluator.run_tournament_sort`, listwise_k 5, out_k 2, rerank_topk 10, dummy_number 21) on a tiny
seeded Fusion-in-Decoder T5 saved by the repository's own `FiDT5` class (its wrapped encoder keys), written to
tests/reference/listt5_tiny_fidt5/ and listt5_tournament.json for tests/test_seq2seq.py.

    python tests/reference/listt5_tournament.py /work/.mirror/soyoung97+ListT5/repo

`FiDT5.py` and the `ListT5Evaluator` class are read from the repository (`git show`, so a bare mirror from
`fetch` works) and run as they are, with three substitutions that change no computation: "cuda" becomes "cpu"
(its tensors are moved to the GPU by name), FiDT5's CheckpointWrapper passes on the arguments today's T5 blocks
take (it was written for transformers 4.33), and the tokenizer is the tiny folder's own (fast) one where the
class would load `T5Tokenizer` (SentencePiece) or fall back to t5-base. The evaluator is built without its
__init__ (which reads a dataset file) and given the arguments run_listt5.py's defaults give."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
FOLDER = HERE / "listt5_tiny_fidt5"


def repository_source(mirror: str, path: str) -> tuple[str, str]:
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run([*git, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout, commit


class JsonLines:
    def __init__(self, path: str, mode: str):
        self.handle = open(path, mode)

    def __enter__(self) -> JsonLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write_all(self, rows: list) -> None:
        self.handle.writelines(json.dumps(row) + "\n" for row in rows)


def main() -> None:
    import torch
    import transformers
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    import tiny_models
    from test_seq2seq import LISTT5_CASES

    mirror = sys.argv[1]
    fid_source, commit = repository_source(mirror, "FiDT5.py")
    # FiDT5.py was written for transformers 4.33, whose T5 blocks took (hidden_states, attention_mask,
    # position_bias, **kwargs); today's pass more positionally. Its CheckpointWrapper only forwards them to the
    # block it wraps (checkpointing is for training), so it is given the arguments as they come.
    signature = "def forward(self, hidden_states, attention_mask, position_bias, **kwargs):"
    call = "output = self.module(hidden_states, attention_mask, position_bias, **kwargs)"
    assert fid_source.count(signature) == 1 and fid_source.count(call) == 1
    fid_source = fid_source.replace(signature, "def forward(self, hidden_states, *args, **kwargs):").replace(
        call, "output = self.module(hidden_states, *args, **kwargs)"
    )
    fid_namespace: dict = {"__name__": "FiDT5"}
    exec(fid_source, fid_namespace)
    FiDT5 = fid_namespace["FiDT5"]

    plain = tiny_models.t5(Path(tempfile.mkdtemp()) / "t5", favoured=("▁1", "▁2", "▁3", "▁4", "▁5"))
    t5 = T5ForConditionalGeneration.from_pretrained(str(plain))
    with torch.no_grad():  # stronger encoder and cross-attention weights: outputs that vary with the passages
        for name, parameter in t5.named_parameters():
            if "encoder.block" in name or "EncDecAttention" in name:
                parameter.mul_(3.0)
    model = FiDT5(t5.config)
    model.load_t5(t5.state_dict())  # the repository's own way to put T5 weights into the FiD wrapper
    model.eval()
    shutil.rmtree(FOLDER, ignore_errors=True)
    model.save_pretrained(str(FOLDER))
    tokenizer = AutoTokenizer.from_pretrained(str(plain))
    tokenizer.save_pretrained(str(FOLDER))

    run_source, _ = repository_source(mirror, "run_listt5.py")
    node = next(n for n in ast.parse(run_source).body if isinstance(n, ast.ClassDef) and n.name == "ListT5Evaluator")
    evaluator_source = (ast.get_source_segment(run_source, node) or "").replace("'cuda'", "'cpu'")
    namespace: dict = {
        "torch": torch,
        "transformers": transformers,
        "FiDT5": FiDT5,
        "tqdm": lambda x, **kwargs: x,
        "jsonlines": SimpleNamespace(open=JsonLines),  # the package is not installed; its writer's two calls
        "json": json,
        "time": __import__("time"),
    }
    exec(evaluator_source, namespace)
    cases = []
    for query, passages in LISTT5_CASES:
        evaluator = namespace["ListT5Evaluator"].__new__(namespace["ListT5Evaluator"])
        evaluator.args = SimpleNamespace(
            listwise_k=5, out_k=2, rerank_topk=10, dummy_number=21, max_input_length=256, padding="max_length",
            max_gen_length=7, topk=len(passages), bsize=20, verbose=False, skip_no_candidate=False,
            skip_issubset=False, measure_flops=False, question_text_key="q_text", firststage_result_key="bm25_results",
            title_key="title", text_key="text", pid_key="pid", qrels_key="qrels", score_key="bm25_score",
            output_path=str(Path(tempfile.mkdtemp()) / "out.jsonl"),
        )  # fmt: skip
        evaluator.tok, evaluator.model, evaluator.num_forward, evaluator.imsi = tokenizer, model, 0, []
        evaluator.test_file = [
            {
                "q_text": query,
                "bm25_results": [
                    {"pid": str(i), "title": "", "text": text, "bm25_score": float(len(passages) - i)}
                    for i, text in enumerate(passages)
                ],
            }
        ]
        with torch.inference_mode():
            evaluator.run_tournament_sort()
        ranked = [int(hit["pid"]) for hit in evaluator.test_file[0]["bm25_results"]]
        cases.append({"query": query, "passages": passages, "order": ranked, "model_calls": evaluator.num_forward})
        print(len(passages), ranked, evaluator.num_forward)
    out = {"commit": commit, "transformers": transformers.__version__, "cases": cases}
    (HERE / "listt5_tournament.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

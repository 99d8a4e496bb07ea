"""Reference scores of MVP (PirateEra/MVP `inference/MVP.py`: `MVP.forward` and `generate_ranklist`, as
`inference/evaluation.py` calls them) on a tiny seeded checkpoint saved by the repository's own `MVP` class
(its Fusion-in-Decoder-wrapped encoder keys), written to tests/reference/mvp_tiny/ and mvp_scores.json for
tests/test_seq2seq.py.

    python tests/reference/mvp_scores.py /work/.mirror/PirateEra+MVP/repo

`MVP.py` is read from the repository (`git show`, so a bare mirror from `fetch` works) and run as it is, with
one substitution that changes no computation: its CheckpointWrapper passes on the arguments today's T5 blocks
take (it was written for transformers 4.x; checkpointing is for training). The inputs are built as
`MVPEvaluator.make_listwise_text` and `make_input_tensors` build them (n_special_tokens 4, padding to
max_length, truncation), with the tiny folder's own (fast) tokenizer where the evaluator loads `T5Tokenizer`
(SentencePiece), and max_input_length 64 (the tiny tokenizer's limit) instead of DL's 256."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
FOLDER = HERE / "mvp_tiny"
VIEWS = 4
MAX_INPUT_LENGTH = 64


def repository_source(mirror: str, path: str) -> tuple[str, str]:
    git = ["git", "-C", mirror]
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run([*git, "show", f"HEAD:{path}"], capture_output=True, text=True, check=True).stdout, commit


def main() -> None:
    import torch
    import transformers
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    import tiny_models
    from test_seq2seq import LISTT5_CASES

    source, commit = repository_source(sys.argv[1], "inference/MVP.py")
    signature = "def forward(self, hidden_states, attention_mask, position_bias, **kwargs):"
    call = "output = self.module(hidden_states, attention_mask, position_bias, **kwargs)"
    assert source.count(signature) == 1 and source.count(call) == 1
    source = source.replace(signature, "def forward(self, hidden_states, *args, **kwargs):").replace(
        call, "output = self.module(hidden_states, *args, **kwargs)"
    )
    module = types.ModuleType("MVP")  # its @dataclass looks its module up in sys.modules
    sys.modules["MVP"] = module
    exec(compile(source, "MVP.py", "exec"), module.__dict__)
    MVP = module.MVP

    plain = tiny_models.t5(Path(tempfile.mkdtemp()) / "t5", extra_ids=VIEWS)
    t5 = T5ForConditionalGeneration.from_pretrained(str(plain))
    with torch.no_grad():  # stronger encoder and cross-attention weights: logits that vary with the passages
        for name, parameter in t5.named_parameters():
            if "encoder.block" in name or "EncDecAttention" in name:
                parameter.mul_(3.0)
    model = MVP(t5.config, n_passages=5, n_special_tokens=VIEWS)
    model.load_t5(t5.state_dict())  # the repository's own way to put T5 weights into its wrapper
    model.eval()
    shutil.rmtree(FOLDER, ignore_errors=True)
    model.save_pretrained(str(FOLDER))
    tokenizer = AutoTokenizer.from_pretrained(str(plain))
    tokenizer.save_pretrained(str(FOLDER))

    cases = []
    markers = "".join(f"<extra_id_{x}>" for x in range(VIEWS))
    for query, passages in LISTT5_CASES:
        texts = [f"{markers} | Query: {query} | Context: {p.strip()}" for p in passages]  # make_listwise_text
        raw = tokenizer(texts, return_tensors="pt", padding="max_length", max_length=MAX_INPUT_LENGTH, truncation=True)
        inputs = {"input_ids": raw["input_ids"].unsqueeze(0), "attention_mask": raw["attention_mask"].unsqueeze(0)}
        model.n_passages = len(passages)
        with torch.no_grad():
            logits = model(**inputs, return_dict=False).logits[0].tolist()
            order = model.generate_ranklist(**inputs, return_dict=False)[0]
        cases.append({"query": query, "passages": passages, "logits": logits, "order": order})
        print(len(passages), order)
    out = {
        "commit": commit,
        "transformers": transformers.__version__,
        "views": VIEWS,
        "max_input_length": MAX_INPUT_LENGTH,
        "cases": cases,
    }
    (HERE / "mvp_scores.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

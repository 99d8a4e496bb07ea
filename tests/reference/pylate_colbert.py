"""Writes pylate_tiny_colbert/ (a seeded tiny ColBERT saved by PyLate, committed: about 100 KB) and
pylate_1.6.0_scores.json (PyLate's MaxSim scores for it), which tests/test_colbert.py compares with rankwise.

PyLate 1.6 pins sentence-transformers 5.3, so it runs in its own environment. Regenerate:

    python3 -m venv /tmp/pylate && /tmp/pylate/bin/pip install torch==2.13.0 pylate==1.6.0
    /tmp/pylate/bin/python tests/reference/pylate_colbert.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

import torch
from pylate import models, scores
from tokenizers import BertWordPieceTokenizer
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

HERE = Path(__file__).parent
FOLDER = HERE / "pylate_tiny_colbert"
STANFORD = HERE / "colbert_ai_tiny_colbert"  # the same kind of model in colbert-ai's own format
OUT = HERE / "pylate_1.6.0_scores.json"
QUERIES = ["how long do fleas live", "what do fleas eat?"]
DOCUMENTS = [
    "An adult flea lives two to three months.",
    "Sourdough needs feeding with flour and water, daily!",
    "Fleas eat blood; a flea feeds on its host. " * 6,
    "The flea market sells records, and antiques.",
]
CORPUS = QUERIES + DOCUMENTS + ["the a of to is in it that for on with as was at by and or not"]


def main() -> None:
    work = Path(tempfile.mkdtemp())
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(
        CORPUS * 10,
        vocab_size=300,
        min_frequency=1,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "[unused1]"],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=wordpiece._tokenizer,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    assert len(tokenizer) > 50, "the WordPiece vocabulary must cover the corpus"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        initializer_range=0.5,
    )  # wide weights: the vectors of different texts differ
    base = work / "base"
    BertModel(config).eval().save_pretrained(base)
    tokenizer.save_pretrained(base)
    # query_length 12 pads the short queries with [MASK] (expansion) and cuts none; document_length 24 cuts
    # the long document; the projection is PyLate's own Dense (seeded).
    colbert = models.ColBERT(
        model_name_or_path=str(base), embedding_size=8, query_length=12, document_length=24, device="cpu"
    )
    if FOLDER.exists():
        shutil.rmtree(FOLDER)
    colbert.save(str(FOLDER))
    _write_stanford(base, colbert)
    results = {}
    for name, folder in (("pylate", FOLDER), ("colbert-ai", STANFORD)):
        reloaded = models.ColBERT(model_name_or_path=str(folder), device="cpu")
        query_vectors = reloaded.encode(QUERIES, is_query=True)
        document_vectors = reloaded.encode(DOCUMENTS, is_query=False)
        matrix = [
            [
                float(scores.colbert_scores(torch.as_tensor(q)[None], torch.as_tensor(d)[None])[0, 0])
                for d in document_vectors
            ]
            for q in query_vectors
        ]  # one pair at a time: no padding involved
        results[name] = {
            "scores": matrix,
            "query_tokens": [len(q) for q in query_vectors],
            "document_tokens": [len(d) for d in document_vectors],
        }
    OUT.write_text(
        json.dumps(
            {
                "library": f"pylate {metadata.version('pylate')}",
                "sentence_transformers": metadata.version("sentence-transformers"),
                "queries": QUERIES,
                "documents": DOCUMENTS,
                **results["pylate"],
                "colbert_ai": results["colbert-ai"],
            },
            indent=1,
        )
        + "\n"
    )
    for junk in ("README.md",):  # the model card PyLate writes holds timestamps and versions only
        (FOLDER / junk).unlink(missing_ok=True)
    print(f"wrote {FOLDER} and {OUT}")


def _write_stanford(base: Path, colbert) -> None:
    """A colbert-ai checkpoint: HF_ColBERT weights (bert.* plus linear.weight, PyLate's projection reused) and
    artifact.metadata with the [unused0]/[unused1] markers; PyLate reads it through Dense.from_stanford_weights."""
    from safetensors.torch import load_file, save_file

    if STANFORD.exists():
        shutil.rmtree(STANFORD)
    STANFORD.mkdir()
    state = {f"bert.{k}": v.contiguous() for k, v in load_file(str(base / "model.safetensors")).items()}
    state["linear.weight"] = colbert[1].linear.weight.detach().clone().contiguous()
    save_file(state, str(STANFORD / "model.safetensors"))
    config = json.loads((base / "config.json").read_text())
    (STANFORD / "config.json").write_text(json.dumps({**config, "architectures": ["HF_ColBERT"]}, indent=1))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(base / name, STANFORD / name)
    (STANFORD / "artifact.metadata").write_text(
        json.dumps(
            {
                "query_token_id": "[unused0]",
                "doc_token_id": "[unused1]",
                "query_maxlen": 12,
                "doc_maxlen": 24,
                "attend_to_mask_tokens": False,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

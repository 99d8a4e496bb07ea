"""PE-Rank (method `pe-rank`) against its authors' code: the tiny checkpoint in tests/reference/pe_rank_tiny is
saved in the format liuqi6777/pe_rank's training writes (an `embed_mistral` config naming its encoder, the
encoder's and the projector's weights beside the decoder's), and tests/reference/pe_rank_scores.py ran the
authors' `ListwiseEmbeddingRanker` / `ListwiseTextEmbeddingRanker` through their sliding windows on it
(transformers 4.37.2, in its own venv), recording each order, each window's permutation and each decoding
step's logits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tiny_models
from rankwise import Reranker
from rankwise.errors import ModelNotAvailableError, UnsupportedMethodError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((ROOT / "tests" / "reference" / "pe_rank_scores.json").read_text())
PROMPTS = {"embedding": "pe_rank", "text-embedding": "pe_rank_text"}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_models.pe_rank_checkpoint(tmp_path_factory.mktemp("pe") / "checkpoint")


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"{c['prompt']}-{len(c['passages'])}")
def test_pe_rank_ranks_as_the_authors_code(checkpoint, case):
    """The same final order, the same permutation in every window, and every decoding step's logits (the
    passages not yet named, in index order) within 1e-4, for windows of 4 (one window), 4 by 2 over 7 (three
    windows, the last of 3) and 20 by 10 over 23, with each passage as its token only and with its text."""
    reranker = Reranker.load(
        str(checkpoint), prompt=PROMPTS[case["prompt"]], window=case["window"], stride=case["stride"]
    )
    assert reranker.method == "pe-rank"
    ranking = reranker.rerank(case["query"], case["passages"])
    assert [int(d) for d in ranking.docids] == case["order"]
    windows = ranking.trace["windows"]
    assert [len(w["docids"]) for w in windows] == [len(p) for p in case["windows"]]
    for window, permutation, theirs in zip(windows, case["windows"], case["step_logits"]):
        assert window["order"] == permutation
        mine = window["step_logits"]
        assert [len(s) for s in mine] == [len(s) for s in theirs[: len(mine)]]
        for step_mine, step_theirs in zip(mine, theirs):
            assert np.allclose(step_mine, step_theirs, atol=1e-4, rtol=0)
        # the first step's best logit is the window's first pick, as greedy decoding takes it
        assert int(np.argmax(mine[0])) == permutation[0]


def test_a_pe_rank_folder_is_read_as_pe_rank_and_refuses_other_methods(checkpoint):
    """Its architecture (EmbedMistralForRankLM / ...ForCausalLM) would otherwise read as a plain causal LM."""
    assert Reranker.load(str(checkpoint)).method == "pe-rank"
    with pytest.raises(UnsupportedMethodError, match=r"\(embedding-lm\) supports pe-rank, not 'llm-pointwise'"):
        Reranker.load(str(checkpoint), method="llm-pointwise")


def test_a_checkpoint_rankwise_cannot_compute_is_refused_with_the_reason(tmp_path):
    folder = tiny_models.pe_rank_checkpoint(tmp_path / "pe")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "projector_type": "qformer"}))
    with pytest.raises(ModelNotAvailableError, match="projector_type 'qformer' is not one PE-Rank builds"):
        Reranker.load(str(folder))
    (folder / "config.json").write_text(json.dumps({**config, "encoder_pooling": "max"}))
    with pytest.raises(ModelNotAvailableError, match="encoder_pooling 'max' is not one PE-Rank computes"):
        Reranker.load(str(folder))
    # an encoder that brings its own code (jina-embeddings-v2, the published checkpoint's) runs only when trusted
    encoder = tmp_path / "encoder"
    encoder_config = json.loads((Path(config["encoder_name"]) / "config.json").read_text())
    import shutil

    shutil.copytree(config["encoder_name"], encoder)
    (encoder / "config.json").write_text(json.dumps({**encoder_config, "auto_map": {"AutoModel": "bert.JinaBert"}}))
    (folder / "config.json").write_text(json.dumps({**config, "encoder_name": str(encoder)}))
    with pytest.raises(ModelNotAvailableError, match="needs code from its own repository .*trust_remote_code=True"):
        Reranker.load(str(folder))


def test_the_short_name_loads_the_checkpoint_and_its_encoder_from_the_hf_cache_offline(tmp_path):
    """`pe-rank-mistral-jina` resolves to its hub id, and the encoder its config names by hub id comes from the
    same cache; the order equals the authors' for the 23-passage case."""
    reference = ROOT / "tests" / "reference" / "pe_rank_tiny"
    tiny_models.hf_cache_layout(tmp_path / "hub", "liuqi6777/pe-rank-mistral-jina", reference / "checkpoint")
    tiny_models.hf_cache_layout(tmp_path / "hub", REFERENCE["encoder_id"], reference / "encoder")
    case = REFERENCE["cases"][2]
    code = (
        "import json; from rankwise import Reranker; r = Reranker.load('pe-rank-mistral-jina'); "
        f"print(json.dumps([r.method, r.rerank({case['query']!r}, {case['passages']!r}).docids]))"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    method, docids = json.loads(done.stdout.strip().splitlines()[-1])
    assert method == "pe-rank"
    assert [int(d) for d in docids] == case["order"]

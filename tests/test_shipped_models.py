"""rankwise's own trained models: the shipped one loads from an empty cache and reproduces the scores recorded
when it was trained; the one rebuilt by a recipe says how to rebuild it when it is missing."""

import json

import pytest

from rankwise import Reranker
from rankwise.errors import ModelNotAvailableError
from rankwise.io import read_candidates
from rankwise.models.registry import get_model_spec
from rankwise.models.sources import SHIPPED
from tests.conftest import data_path

FUSION = SHIPPED / "minilm-fusion-dl21"


def test_shipped_fusion_is_small_and_has_a_model_card():
    files = [p for p in FUSION.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5 * 2**20
    card = (FUSION / "README.md").read_text()
    for fact in ("Base weights", "Training data", "never", "dl19", "Seed", "nDCG@10"):
        assert fact in card, fact
    record = json.loads((FUSION / "training.json").read_text())
    assert record["collections"] == ["dl21"] and record["held_out"] == ["dl19"]


def test_shipped_fusion_reproduces_its_recorded_scores_from_an_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RANKWISE_CACHE", str(tmp_path / "empty-cache"))
    reference = json.loads((FUSION / "reference_scores.json").read_text())
    requests = {r.query.qid: r for r in read_candidates(data_path("dl19", reference["candidates"]))}
    reranker = Reranker.load("minilm-fusion-dl21")
    assert reranker.method == "fusion"
    chosen = [requests[qid] for qid in reference["scores"]]
    for ranking in reranker.rerank_batch(chosen):
        recorded = reference["scores"][ranking.query.qid]
        got = {r.docid: r.score for r in ranking.results}
        assert ranking.docids[: len(recorded["top"])] == recorded["top"]
        for docid, score in recorded["values"].items():
            assert got[docid] == pytest.approx(score, abs=1e-4)


def test_a_missing_shipped_model_names_its_recipe(tmp_path, monkeypatch):
    import rankwise.models.sources as sources

    monkeypatch.setattr(sources, "SHIPPED", tmp_path)
    assert get_model_spec("minilm-fusion-dl21").hf_id is None
    with pytest.raises(ModelNotAvailableError, match="rebuild it with: make recipe-minilm-fusion-dl21"):
        Reranker.load("minilm-fusion-dl21")

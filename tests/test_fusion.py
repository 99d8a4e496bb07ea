"""Learned fusion: trained on a small slice of dl21 with MiniLM features, saved, loaded, and monotone."""

import json

import numpy as np
import pytest
from tests.conftest import data_path

from rankwise import InputError, Reranker
from rankwise.pipelines.train.data import HeldOut
from rankwise.pipelines.train.fusion import monotone_constraints, train_fusion
from rankwise.rerankers.compose.fusion import FusionSpec, Stage, feature_matrix
from rankwise.types import Candidate, Request


@pytest.fixture(scope="module")
def small_collection(tmp_path_factory):
    """dl21's first 12 queries with their BM25 top 15 and their qrels, in a collection folder."""
    folder = tmp_path_factory.mktemp("collection") / "dl21-slice"
    folder.mkdir()
    entries = json.loads(data_path("dl21", "bm25_top100.json").read_text())[:12]
    for entry in entries:
        entry["hits"] = entry["hits"][:15]
    (folder / "bm25_top100.json").write_text(json.dumps(entries))
    qids = {str(e["hits"][0]["qid"]) for e in entries}
    lines = [line for line in data_path("dl21", "qrels.txt").read_text().splitlines() if line.split()[0] in qids]
    (folder / "qrels.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture(scope="module")
def trained(small_collection, tmp_path_factory):
    out = tmp_path_factory.mktemp("fusion") / "model"
    spec = FusionSpec([Stage(name="minilm", model="minilm-embed", method="embedding")])
    report = train_fusion(
        spec,
        [small_collection],
        out,
        first_stages=["bm25"],
        folds=3,
        params={"n_estimators": 20, "min_child_samples": 10},
    )
    return report


def test_training_writes_a_loadable_model_with_cross_validated_figures(trained):
    assert set(trained.cv_ndcg10) == {"dl21-slice/bm25"}
    assert 0.0 < trained.cv_ndcg10["dl21-slice/bm25"] <= 1.0
    assert trained.queries == 12
    files = {p.name for p in trained.out_dir.iterdir()}
    assert {"fusion.json", "lightgbm.txt", "training.json"} <= files
    record = json.loads((trained.out_dir / "training.json").read_text())
    assert record["collections"] == ["dl21-slice"] and record["config"]["folds"] == 3 and record["trainer"] == "fusion"
    assert record["config"]["feature_importance_gain"]["minilm.z"] > 0


def test_fused_model_reranks_without_first_stage_scores(trained, flea_docs):
    fusion = Reranker.load(str(trained.out_dir))  # the folder's fusion.json makes `fusion` the default method
    assert fusion.method == "fusion"
    ranking = fusion.rerank("how long do fleas live", flea_docs)
    assert len(ranking) == len(flea_docs)
    assert ranking[0].docid == "flea-lifespan"
    assert "sourdough" in ranking.docids[-4:]


def test_runtime_options_reach_the_stages_and_method_options_are_checked(trained):
    fusion = Reranker.load(str(trained.out_dir), method="fusion", batch_size=3, threads=None)
    assert fusion.stages[0].encoder.options.batch_size == 3
    with pytest.raises(TypeError, match="unknown option\\(s\\): window"):
        Reranker.load(str(trained.out_dir), method="fusion", window=5)


def test_fused_score_never_falls_when_a_stage_score_rises(trained):
    fusion = Reranker.load(str(trained.out_dir), method="fusion")
    names = fusion.spec.feature_names
    assert monotone_constraints(names)[names.index("minilm.z")] == 1
    assert monotone_constraints(names)[names.index("first_stage.log_rank")] == -1
    request = Request.build("q", [Candidate(str(i), f"passage {i}", score=float(10 - i)) for i in range(10)])
    rows = feature_matrix(fusion.spec, request, [[0.1 * i for i in range(10)]])
    column = names.index("minilm.z")
    sweep = np.repeat(rows[:1], 25, axis=0)
    sweep[:, column] = np.linspace(-3, 3, 25)
    predictions = fusion.booster.predict(sweep)
    assert np.all(np.diff(predictions) >= -1e-12)


def test_a_held_out_collection_cannot_train(small_collection, tmp_path):
    spec = FusionSpec([Stage(name="minilm", model="minilm-embed", method="embedding")])
    with pytest.raises(InputError, match="held out for evaluation"):
        train_fusion(
            spec,
            [small_collection],
            tmp_path / "m",
            first_stages=["bm25"],
            held_out=HeldOut.from_collections([small_collection]),
        )


def test_a_lists_file_trains_fusion_as_the_collection_it_was_written_from(small_collection, tmp_path):
    """Outside a collection folder the file's passage order is the first stage's ranking: the same queries,
    candidates in the same order and the same grades as the collection's BM25 file, without its scores."""
    from rankwise.io.collection import Collection
    from rankwise.pipelines.train.fusion import load_training_requests

    collection = Collection.open(small_collection)
    qrels = collection.qrels()
    lists = tmp_path / "lists.jsonl"
    with open(lists, "w", encoding="utf-8") as f:
        for request in collection.candidates("bm25"):
            judged = qrels[request.query.qid]
            f.write(
                json.dumps(
                    {
                        "qid": request.query.qid,
                        "query": request.query.text,
                        "passages": [{"id": c.docid, "text": c.text} for c in request.candidates],
                        "labels": [judged.get(c.docid, 0) for c in request.candidates],
                    }
                )
                + "\n"
            )
    from_collection = load_training_requests([small_collection], ["bm25"], HeldOut())
    from_lists = load_training_requests([lists], ["bm25"], HeldOut())
    assert [(r.query.qid, [c.docid for c in r.candidates]) for _, r, _ in from_lists] == [
        (r.query.qid, [c.docid for c in r.candidates]) for _, r, _ in from_collection
    ]
    for (_, request, grades), (_, _, expected) in zip(from_lists, from_collection):
        # The qrels also grade passages outside the top 15, which a lists file of the top 15 cannot carry.
        assert {c.docid: grades.get(c.docid, 0) for c in request.candidates} == {
            c.docid: expected.get(c.docid, 0) for c in request.candidates
        }
        assert all(c.score is None for c in request.candidates)
    spec = FusionSpec([Stage(name="minilm", model="minilm-embed", method="embedding")])
    report = train_fusion(
        spec, [lists], tmp_path / "model", folds=3, params={"n_estimators": 20, "min_child_samples": 10}
    )
    assert set(report.cv_ndcg10) == {"lists"} and report.queries == 12
    assert Reranker.load(str(tmp_path / "model")).rerank("fleas", ["a flea", "bread"]).docids

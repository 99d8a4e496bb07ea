"""Calibration: the fitted maps against scikit-learn and a hand-computed isotonic fit, the reranker a
calibration belongs to, filtering by probability, the held-out guard, and the CLI end to end."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math

import numpy as np
import pytest

from conftest import FLEA_QUERY, judged_collection
from rankwise import Reranker
from rankwise.calibration import Calibration
from rankwise.errors import InputError, OptionError
from rankwise.pipelines.calibrate import LabelledScores, calibrate, calibration_metrics, feature_for, fit_calibration
from rankwise.rerankers.registry import registered_method

FLEA_DOCS = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs a starter.",
    "Fleas can survive up to a year without feeding.",
    "The flea market opens on Sundays.",
]


def table(scores, labels, qids=None):
    rows = LabelledScores()
    qids = qids or [f"q{i % 4}" for i in range(len(scores))]
    for qid, score, label in zip(qids, scores, labels):
        rows.qids.append(qid)
        rows.scores.append(float(score))
        rows.ranks.append(1)
        rows.lengths.append(1)
        rows.labels.append(label)
    return rows


def test_the_isotonic_map_reproduces_a_hand_computed_pool_adjacent_violators_fit():
    """Scores 1..6 labelled 0 1 0 1 1 0. Pool adjacent violators: 1 then 0 at scores 2, 3 pool to 1/2; the
    blocks 0, 1/2, 1, 1 then end in 0 at score 6, which pools with 4, 5 to 2/3. Fit: 0, 1/2, 1/2, 2/3, 2/3, 2/3,
    applied by interpolation between thresholds and clipped at the ends (scikit-learn's predict)."""
    from rankwise.pipelines.calibrate import _fit_map

    rows = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
    parameters = _fit_map("isotonic", rows, np.array([0, 1, 0, 1, 1, 0]))
    calibration = Calibration("isotonic", "score", parameters, {}, 2)
    got = calibration.probabilities([1, 2, 3, 4, 5, 6, 2.5, 0, 9], [1] * 9, 9)
    assert got == pytest.approx([0, 0.5, 0.5, 2 / 3, 2 / 3, 2 / 3, 0.5, 0, 2 / 3])
    grid = calibration.probabilities(list(np.linspace(-1, 8, 50)), [1] * 50, 50)
    assert all(a <= b + 1e-12 for a, b in zip(grid, grid[1:]))  # monotone
    from sklearn.isotonic import IsotonicRegression

    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(rows[:, 0], [0, 1, 0, 1, 1, 0])
    assert got == pytest.approx(reference.predict([1, 2, 3, 4, 5, 6, 2.5, 0, 9]).tolist())


def test_platt_is_a_logistic_fit_and_the_lower_cross_validated_log_loss_is_chosen():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=400)
    labels = (rng.random(400) < 1 / (1 + np.exp(-(2 * scores - 1)))).astype(int).tolist()
    calibration, out_of_fold = fit_calibration(table(scores, labels), "score", {"method": "x"}, 2, folds=4)
    losses = calibration.fit["cv_log_loss"]
    assert calibration.map == min(losses, key=losses.get) == "platt"  # the data are logistic
    coef, intercept = calibration.parameters["coef"][0], calibration.parameters["intercept"]
    assert coef == pytest.approx(2, abs=0.5) and intercept == pytest.approx(-1, abs=0.4)
    assert calibration.probabilities([0.5], [1], 1)[0] == pytest.approx(1 / (1 + math.exp(-(coef * 0.5 + intercept))))
    assert set(out_of_fold) == {"isotonic", "platt"} and len(out_of_fold["platt"]) == 400


def test_metrics_of_a_perfectly_calibrated_constant():
    metrics = calibration_metrics([0.25] * 8, [1, 0, 0, 0, 1, 0, 0, 0])
    assert metrics["ece"] == pytest.approx(0) and metrics["brier"] == pytest.approx(0.1875)
    assert metrics["log_loss"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def test_one_class_and_one_query_are_refused_with_the_reason():
    with pytest.raises(InputError, match="every calibration passage is not relevant"):
        fit_calibration(table([1, 2, 3], [0, 0, 0]), "score", {}, 2)
    with pytest.raises(InputError, match="at least two queries"):
        fit_calibration(table([1, 2, 3], [0, 1, 0], qids=["a", "a", "a"]), "score", {}, 2)


@pytest.fixture(scope="module")
def collections(tmp_path_factory):
    """dl21's first 16 judged queries (BM25 top 20) as a collection, and a held-out copy of 4 of them."""
    root = tmp_path_factory.mktemp("calibration")
    return (
        judged_collection(root / "fit", "dl21", queries=16, depth=20),
        judged_collection(root / "held", "dl21", queries=4, depth=20),
    )


@pytest.fixture(scope="module")
def fitted(collections, minilm):
    fit, held = collections
    calibration, report = calibrate(minilm, [fit], held_out=[held], top_k=20, folds=4)
    return calibration, report


def test_calibration_never_reads_a_held_out_collection(collections, minilm, fitted):
    fit, held = collections
    calibration, report = fitted
    assert report["data"]["dropped_held_out_queries"] == 4 and report["data"]["queries"] == 12
    assert calibration.data["held_out"] == ["held"] and calibration.data["pairs"] == 12 * 20
    with pytest.raises(InputError, match="held out for evaluation"):
        calibrate(minilm, [held], held_out=[held], top_k=20)


def test_a_calibrated_reranker_gives_probabilities_and_filters_possibly_to_nothing(collections, fitted, tmp_path):
    calibration, _ = fitted
    path = tmp_path / "calib.json"
    calibration.save(path)
    reranker = Reranker.load("minilm-embed", calibration=str(path))
    plain = Reranker.load("minilm-embed").rerank(FLEA_QUERY, FLEA_DOCS)
    ranking = reranker.rerank(FLEA_QUERY, FLEA_DOCS)
    assert ranking.docids == plain.docids and [r.score for r in ranking] == [r.score for r in plain]
    probabilities = [r.probability for r in ranking]
    assert probabilities == sorted(probabilities, reverse=True) and all(0 <= p <= 1 for p in probabilities)
    assert ranking.trace["calibration"] == str(path)
    middle = (probabilities[0] + probabilities[-1]) / 2
    kept = reranker.rerank(FLEA_QUERY, FLEA_DOCS, min_probability=middle)
    assert kept.docids == [r.docid for r in ranking if r.probability >= middle] and 0 < len(kept) < len(FLEA_DOCS)
    assert reranker.rerank(FLEA_QUERY, FLEA_DOCS, min_probability=1.0).results == []
    with pytest.raises(OptionError, match="min_probability needs calibrated scores"):
        Reranker.load("minilm-embed").rerank(FLEA_QUERY, FLEA_DOCS, min_probability=0.5)
    with pytest.raises(InputError, match=r"min_probability must be in \[0, 1\]"):
        reranker.rerank(FLEA_QUERY, FLEA_DOCS, min_probability=1.5)


def test_a_calibration_refuses_another_reranker_naming_the_difference(fitted, tmp_path):
    calibration, _ = fitted
    path = tmp_path / "calib.json"
    calibration.save(path)
    with pytest.raises(
        OptionError, match="fitted for another reranker .*method: fitted for 'embedding', given 'maxsim'"
    ):
        Reranker.load("minilm-embed", method="maxsim", calibration=str(path))
    with pytest.raises(OptionError, match="max_length: fitted for 256, given 64"):
        Reranker.load("minilm-embed", max_length=64, calibration=str(path))
    with pytest.raises(Exception, match="'qwen2.5-coder-1.5b' carries no calibration of its own"):
        Reranker.load("qwen2.5-coder-1.5b", calibration=True)  # refused before any weights load
    with pytest.raises(OptionError, match="minilm-embed's own calibration was fitted for another reranker"):
        Reranker.load("minilm-embed", method="maxsim", calibration=True)


@pytest.mark.slow  # 14 s
def test_a_composed_spec_is_calibrated_as_a_whole_and_refuses_another_spec(collections, flea_docs, tmp_path):
    from rankwise.pipelines.index import build_forward_index

    fit, held = collections
    spec = "rrf(embedding:minilm-embed, maxsim:minilm-embed)"
    calibration, report = calibrate(Reranker.load(spec), [fit], held_out=[held], top_k=20, folds=4)
    assert [m["method"] for m in calibration.reranker["members"]] == ["embedding", "maxsim"]
    assert calibration.data["pairs"] == 12 * 20
    path = tmp_path / "rrf.json"
    calibration.save(path)
    ranking = Reranker.load(spec, calibration=str(path)).rerank(FLEA_QUERY, flea_docs)
    probabilities = [r.probability for r in ranking]
    assert probabilities == sorted(probabilities, reverse=True) and all(0 <= p <= 1 for p in probabilities)
    assert probabilities[0] > probabilities[-1]
    # Where the members' passage vectors come from does not change their scores, so the calibration holds.
    index = tmp_path / "idx"
    build_forward_index(flea_docs, index, "minilm-embed", token_vectors=True)
    indexed = Reranker.load(
        f"rrf(embedding:minilm-embed{{index={index}}}, maxsim:minilm-embed{{index={index}}})", calibration=str(path)
    ).rerank(FLEA_QUERY, flea_docs)
    assert indexed.docids == ranking.docids
    assert [r.probability for r in indexed] == pytest.approx(probabilities, abs=1e-6)
    with pytest.raises(
        OptionError,
        match=r"fitted for another reranker \(members: fitted for .*'maxsim'.*given "
        r".*'embedding-prf'",
    ):
        Reranker.load("rrf(embedding:minilm-embed, embedding-prf:minilm-embed)", calibration=str(path))


def test_the_shipped_calibrations_are_fitted_on_dl21_with_dl19_held_out_and_load_with_their_models():
    from rankwise.models.registry import MODELS

    shipped = [spec for spec in MODELS.values() if spec.calibration is not None]
    assert {spec.name for spec in shipped} >= {"minilm-embed", "minilm-maxsim-fusion-dl21"}
    for spec in shipped:
        calibration = Calibration.load(spec.calibration_path())
        assert calibration.data["collections"] == ["dl21"] and calibration.data["held_out"] == ["dl19"]
        assert calibration.reranker["model"] == spec.name and calibration.reranker["method"] == registered_method(spec)
        assert calibration.data["queries"] == 53 and calibration.depths
    ranking = Reranker.load("minilm-embed", calibration=True).rerank(FLEA_QUERY, FLEA_DOCS)
    assert ranking.trace["calibration"] == "minilm-embed's own calibration"
    assert all(0 < r.probability < 1 for r in ranking)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a calibration file \\(invalid JSON"),
        ('{"format": "other"}', "its format is not 'rankwise-calibration/1'"),
        ('{"format": "rankwise-calibration/1", "map": "platt"}', "calibration file lacks feature, parameters"),
    ],
)
def test_a_malformed_calibration_file_is_refused_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "calib.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        Calibration.load(path)


def test_ordinal_scores_are_calibrated_through_their_rank():
    from rankwise.types import ScoreKind

    class Ordinal:
        score_kind = ScoreKind.ORDINAL

    assert feature_for(Ordinal()) == "rank"
    rows = LabelledScores()
    for qid in "abcd":
        for rank in range(1, 11):
            rows.qids.append(qid), rows.scores.append(11.0 - rank), rows.ranks.append(rank)
            rows.lengths.append(10), rows.labels.append(int(rank <= 2 or (rank == 5 and qid == "a")))
    calibration, _ = fit_calibration(rows, "rank", {}, 2, folds=2)
    top, low = calibration.probabilities([10.0, 1.0], [1, 10], 10)
    assert top > 0.5 > low


def test_the_cli_fits_writes_and_the_rerank_command_uses_the_calibration(collections, tmp_path):
    from typer.testing import CliRunner

    from rankwise.cli.main import app

    fit, held = collections
    out = tmp_path / "calib.json"
    done = CliRunner().invoke(
        app,
        [
            "calibrate",
            "-m",
            "minilm-embed",
            "--collection",
            str(fit),
            "--held-out",
            str(held),
            "--out",
            str(out),
            "--top-k",
            "20",
            "--folds",
            "3",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "12 queries, 240 passages" in done.output and "4 queries dropped" in done.output
    assert Calibration.load(out).reranker["method"] == "embedding"
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(FLEA_DOCS)))
    shown = CliRunner().invoke(
        app, ["rerank", "-m", "minilm-embed", "-q", FLEA_QUERY, "--docs", str(docs), "-O", f"calibration={out}"]
    )
    assert shown.exit_code == 0, shown.output
    assert "P(relevant)" in shown.output and shown.output.count("flea") >= 3
    none = CliRunner().invoke(
        app,
        [
            "rerank",
            "-m",
            "minilm-embed",
            "-q",
            FLEA_QUERY,
            "--docs",
            str(docs),
            "-O",
            f"calibration={out}",
            "--min-probability",
            "1.0",
            "--coverage",
            "0.5",
        ],
    )
    assert none.exit_code == 0, none.output
    assert not any(word in none.output for word in ("Adult", "Sourdough", "survive", "market"))  # no result


@pytest.fixture(scope="module")
def known(minilm):
    """minilm-embed with a Platt map whose probabilities are easy to state: sigmoid(10 * cosine - 5)."""
    from rankwise.rerankers.wrappers.calibrated import CalibratedReranker, scoring_description

    calibration = Calibration("platt", "score", {"coef": [10.0], "intercept": -5.0}, scoring_description(minilm), 2)
    return CalibratedReranker(minilm, calibration, "known")


# Depths of five calibration queries' first relevant passages: coverage 0.5 reaches the 3rd smallest, 0.3.
FIVE_DEPTHS = [0.0, 0.0, 0.3, 0.6, 0.9]


def adaptive_prefix(minilm, depth):
    """ORACLE: the documents, best first, while the chance that one ranked above is relevant (with P =
    sigmoid(10 * cosine - 5)) is at most `depth`."""
    probabilities = sigmoid_of(minilm)
    kept, missed = [], 1.0
    for index in sorted(probabilities, key=lambda i: -probabilities[i]):
        if 1 - missed > depth:
            break
        kept.append(index)
        missed *= 1 - probabilities[index]
    return kept


def sigmoid_of(minilm, docs=FLEA_DOCS):
    return {int(r.docid): 1 / (1 + math.exp(-(10 * r.score - 5))) for r in minilm.rerank(FLEA_QUERY, docs)}


def test_the_service_answers_probabilities_filters_by_min_relevance_and_may_answer_nothing(known, minilm):
    import httpx

    from rankwise.rerankers.wrappers.calibrated import CalibratedReranker
    from rankwise.server import ServerSettings, create_app
    from server_helpers import threaded_server

    expected = sigmoid_of(minilm)
    threshold = sorted(expected.values())[1] + 1e-9  # keeps all but the two least likely
    with threaded_server(create_app(known, ServerSettings(model_name="minilm-calibrated"))) as base:
        body = {"query": FLEA_QUERY, "documents": FLEA_DOCS}
        data = httpx.post(f"{base}/v2/rerank", json=body).json()
        assert data["meta"]["score_kind"] == "calibrated-probability"
        assert {r["index"]: r["relevance_score"] for r in data["results"]} == pytest.approx(expected)
        kept = httpx.post(f"{base}/v1/rerank", json={**body, "min_relevance": threshold}).json()["results"]
        assert [r["index"] for r in kept] == [
            i for i in sorted(expected, key=lambda i: -expected[i]) if expected[i] >= threshold
        ] and len(kept) == 2
        nothing = httpx.post(f"{base}/v2/rerank", json={**body, "min_relevance": 1.0})
        assert nothing.status_code == 200 and nothing.json()["results"] == []
        tei = httpx.post(
            f"{base}/rerank", json={"query": FLEA_QUERY, "texts": FLEA_DOCS, "min_relevance": threshold}
        ).json()
        assert [(r["index"], r["score"]) for r in tei] == [
            (r["index"], pytest.approx(r["relevance_score"])) for r in kept
        ]
        raw = httpx.post(f"{base}/rerank", json={"query": FLEA_QUERY, "texts": FLEA_DOCS, "raw_scores": True}).json()
        assert max(r["score"] for r in raw) < 1 and min(r["score"] for r in raw) < 0.2  # cosines, not probabilities
        wrong = httpx.post(f"{base}/v2/rerank", json={**body, "min_relevance": "0.5"})
        assert wrong.status_code == 422 and "min_relevance" in wrong.text
        offered = httpx.get(f"{base}/openapi.json").json()["components"]["schemas"]["RerankRequest"]["properties"]
        assert {"min_relevance", "coverage"} <= set(offered)
        no_depths = httpx.post(f"{base}/v2/rerank", json={**body, "coverage": 0.5})
        assert no_depths.status_code == 422 and "calibration with query depths" in no_depths.json()["error"]
    deep = CalibratedReranker(minilm, dataclasses.replace(known.calibration, depths=FIVE_DEPTHS), "deep")
    with threaded_server(create_app(deep, ServerSettings(model_name="minilm-calibrated"))) as base:
        cut = httpx.post(f"{base}/v2/rerank", json={"query": FLEA_QUERY, "documents": FLEA_DOCS, "coverage": 0.5})
        assert [r["index"] for r in cut.json()["results"]] == adaptive_prefix(minilm, 0.3)
        tei = httpx.post(f"{base}/rerank", json={"query": FLEA_QUERY, "texts": FLEA_DOCS, "coverage": 0.5}).json()
        assert [r["index"] for r in tei] == [r["index"] for r in cut.json()["results"]]
        edge = httpx.post(f"{base}/v2/rerank", json={"query": FLEA_QUERY, "documents": FLEA_DOCS, "coverage": 1})
        assert edge.status_code == 422 and "coverage must be in (0, 1)" in edge.json()["error"]
    with threaded_server(create_app(minilm, ServerSettings(model_name="minilm-embed"))) as base:
        schemas = httpx.get(f"{base}/openapi.json").json()["components"]["schemas"]
        for name in ("RerankRequest", "TEIRequest"):  # not offered where it would be refused
            assert not {"min_relevance", "coverage"} & set(schemas[name]["properties"])
        refused = httpx.post(
            f"{base}/v2/rerank", json={"query": FLEA_QUERY, "documents": FLEA_DOCS, "min_relevance": 0.5}
        )
        assert refused.status_code == 422 and "min_relevance needs calibrated scores" in refused.json()["error"]
        tei = httpx.post(f"{base}/rerank", json={"query": FLEA_QUERY, "texts": FLEA_DOCS, "min_relevance": 0.5})
        assert tei.status_code == 422


def test_every_adapter_takes_min_probability_and_reports_the_probability(known, minilm):
    expected = sigmoid_of(minilm)
    threshold = sorted(expected.values())[1] + 1e-9
    best_first = [i for i in sorted(expected, key=lambda i: -expected[i]) if expected[i] >= threshold]
    checked = 0
    if importlib.util.find_spec("langchain_core"):
        from langchain_core.documents import Document

        from rankwise.integrations.langchain import RankwiseRerank

        docs = RankwiseRerank.from_reranker(known, top_n=None, min_probability=threshold).compress_documents(
            [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(FLEA_DOCS)], FLEA_QUERY
        )
        assert [d.metadata["i"] for d in docs] == best_first
        assert [d.metadata["relevance_score"] for d in docs] == pytest.approx([expected[i] for i in best_first])
        checked += 1
    if importlib.util.find_spec("llama_index"):
        from llama_index.core.schema import NodeWithScore, TextNode

        from rankwise.integrations.llama_index import RankwiseRerank as LlamaRerank

        nodes = LlamaRerank.from_reranker(known, top_n=None, min_probability=threshold).postprocess_nodes(
            [NodeWithScore(node=TextNode(text=t, id_=str(i))) for i, t in enumerate(FLEA_DOCS)], query_str=FLEA_QUERY
        )
        assert [int(n.node.node_id) for n in nodes] == best_first
        assert [n.score for n in nodes] == pytest.approx([expected[i] for i in best_first])
        checked += 1
    if importlib.util.find_spec("haystack"):
        from haystack import Document as HaystackDocument

        from rankwise.integrations.haystack import RankwiseRanker

        ranker = RankwiseRanker.from_reranker(known, top_k=None, min_probability=threshold)
        ranked = ranker.run(FLEA_QUERY, [HaystackDocument(content=t, id=str(i)) for i, t in enumerate(FLEA_DOCS)])
        assert [int(d.id) for d in ranked["documents"]] == best_first
        assert ranker.run(FLEA_QUERY, [HaystackDocument(content=FLEA_DOCS[1])], min_probability=1.0)["documents"] == []
        assert ranker.to_dict()["init_parameters"]["min_probability"] == threshold
        checked += 1
    if importlib.util.find_spec("pyterrier"):
        import pandas as pd

        from rankwise.integrations.pyterrier import RankwiseReranker

        frame = pd.DataFrame(
            {"qid": "1", "query": FLEA_QUERY, "docno": [str(i) for i in range(len(FLEA_DOCS))], "text": FLEA_DOCS}
        )
        out = RankwiseReranker.from_reranker(known, min_probability=threshold).transform(frame)
        assert out["docno"].astype(int).tolist() == best_first
        assert out["probability"].tolist() == pytest.approx([expected[i] for i in best_first])
        checked += 1
    if checked == 0:
        pytest.skip("no framework extra (langchain, llama-index, haystack, pyterrier) is installed")


def test_every_adapter_takes_coverage_for_the_adaptive_prefix(known, minilm):
    from rankwise.rerankers.wrappers.calibrated import CalibratedReranker

    deep = CalibratedReranker(minilm, dataclasses.replace(known.calibration, depths=FIVE_DEPTHS), "deep")
    expected = adaptive_prefix(minilm, 0.3)
    assert 0 < len(expected) < len(FLEA_DOCS)
    got = {}
    if importlib.util.find_spec("langchain_core"):
        from langchain_core.documents import Document

        from rankwise.integrations.langchain import RankwiseRerank

        got["langchain"] = [
            d.metadata["i"]
            for d in RankwiseRerank.from_reranker(deep, top_n=None, coverage=0.5).compress_documents(
                [Document(page_content=t, metadata={"i": i}) for i, t in enumerate(FLEA_DOCS)], FLEA_QUERY
            )
        ]
    if importlib.util.find_spec("llama_index"):
        from llama_index.core.schema import NodeWithScore, TextNode

        from rankwise.integrations.llama_index import RankwiseRerank as LlamaRerank

        got["llama_index"] = [
            int(n.node.node_id)
            for n in LlamaRerank.from_reranker(deep, top_n=None, coverage=0.5).postprocess_nodes(
                [NodeWithScore(node=TextNode(text=t, id_=str(i))) for i, t in enumerate(FLEA_DOCS)],
                query_str=FLEA_QUERY,
            )
        ]
    if importlib.util.find_spec("haystack"):
        from haystack import Document as HaystackDocument

        from rankwise.integrations.haystack import RankwiseRanker

        ranked = RankwiseRanker.from_reranker(deep, top_k=None, coverage=0.5).run(
            FLEA_QUERY, [HaystackDocument(content=t, id=str(i)) for i, t in enumerate(FLEA_DOCS)]
        )
        got["haystack"] = [int(d.id) for d in ranked["documents"]]
    if importlib.util.find_spec("pyterrier"):
        import pandas as pd

        from rankwise.integrations.pyterrier import RankwiseReranker

        frame = pd.DataFrame(
            {"qid": "1", "query": FLEA_QUERY, "docno": [str(i) for i in range(len(FLEA_DOCS))], "text": FLEA_DOCS}
        )
        got["pyterrier"] = (
            RankwiseReranker.from_reranker(deep, coverage=0.5).transform(frame)["docno"].astype(int).tolist()
        )
    if not got:
        pytest.skip("no framework extra (langchain, llama-index, haystack, pyterrier) is installed")
    assert got == {name: expected for name in got}


def test_the_conformal_depth_is_the_ceil_n_plus_one_coverage_th_smallest():
    calibration = Calibration(
        "platt", "rank", {"coef": [1.0, 0.0], "intercept": 0.0}, {}, 2, depths=[3, 1, 2, 9, 4, 8, 5, 7, 6]
    )
    assert calibration.cutoff_depth(0.8) == 8  # ceil(10 * 0.8) = 8th smallest
    assert calibration.cutoff_depth(0.5) == 5
    assert calibration.cutoff_depth(0.95) == math.inf  # ceil(9.5) = 10 > 9 queries: the whole list
    with pytest.raises(InputError, match=r"coverage must be in \(0, 1\)"):
        calibration.cutoff_depth(1.0)


@pytest.mark.parametrize("coverage", [0.8, 0.9, 0.95])
def test_the_adaptive_cutoff_reaches_the_requested_coverage_where_the_answer_is_known(coverage):
    """Lists of 20: one relevant passage scored N(1, 1), nineteen others N(0, 1), P(relevant) = sigmoid(score).
    Fit the depths on 2000 queries; on 4000 new ones the prefix holds the relevant passage in about `coverage`
    of them (the guarantee: at least `coverage`, at most `coverage` + 1/2001, in expectation; both samples add
    noise of about 0.01)."""
    from rankwise.pipelines.calibrate import first_relevant_depths

    rng = np.random.default_rng(7)
    platt = Calibration("platt", "score", {"coef": [1.0], "intercept": 0.0}, {}, 2)

    def ranked_lists(count):
        for _ in range(count):
            scores = np.concatenate([[rng.normal(1, 1)], rng.normal(0, 1, 19)])  # index 0 is the relevant one
            order = np.argsort(-scores, kind="stable")
            ranks = np.empty(20, dtype=int)
            ranks[order] = np.arange(1, 21)
            yield scores.tolist(), ranks.tolist()

    rows, probabilities = LabelledScores(), []
    for q, (scores, ranks) in enumerate(ranked_lists(2000)):
        for i in range(20):
            rows.qids.append(str(q)), rows.scores.append(scores[i]), rows.ranks.append(ranks[i])
            rows.lengths.append(20), rows.labels.append(int(i == 0))
        probabilities += platt.probabilities(scores, ranks, 20)
    depths, without = first_relevant_depths(rows, probabilities)
    assert without == 0 and len(depths) == 2000 and depths == sorted(depths) and depths[0] == 0.0
    cut = dataclasses.replace(platt, depths=depths).cutoff_depth(coverage)
    covered, kept = [], []
    for scores, ranks in ranked_lists(4000):
        prefix = platt.prefix_depths(scores, ranks, 20)
        covered.append(prefix[0] <= cut)
        kept.append(sum(d <= cut for d in prefix))
    assert coverage - 0.03 <= float(np.mean(covered)) <= coverage + 0.03
    assert np.mean(kept) < 20 and min(kept) >= 1 and max(kept) > min(kept)  # the prefix adapts to the list


def test_prefix_depths_are_the_chance_that_a_passage_above_is_relevant():
    platt = Calibration("platt", "score", {"coef": [1.0], "intercept": 0.0}, {}, 2)
    p = [1 / (1 + math.exp(-s)) for s in (2.0, 0.0, -1.0)]
    depths = platt.prefix_depths([0.0, 2.0, -1.0], [2, 1, 3], 3)  # given out of rank order
    assert depths == pytest.approx([p[0], 0.0, 1 - (1 - p[0]) * (1 - p[1])])


def test_an_adaptive_top_n_keeps_a_prefix_of_the_ranking(fitted, minilm, tmp_path):
    calibration, _ = fitted
    assert calibration.depths and len(calibration.depths) + calibration.queries_without_relevant == 12
    path = tmp_path / "calib.json"
    calibration.save(path)
    reranker = Reranker.load("minilm-embed", calibration=str(path))
    whole = reranker.rerank(FLEA_QUERY, FLEA_DOCS)
    cut = reranker.rerank(FLEA_QUERY, FLEA_DOCS, top_n="adaptive", coverage=0.5)
    assert cut.docids == whole.docids[: len(cut)]
    assert cut.trace["cutoff"]["coverage"] == 0.5 and cut.trace["cutoff"]["kept"] == len(cut)
    depth = calibration.cutoff_depth(0.5)
    depths = calibration.prefix_depths([r.score for r in whole], [r.rank for r in whole], len(whole))
    assert len(cut) == sum(d <= depth for d in depths) >= 1
    with pytest.raises(InputError, match="top_n='adaptive' and coverage go together"):
        reranker.rerank(FLEA_QUERY, FLEA_DOCS, top_n="adaptive")
    with pytest.raises(InputError, match="top_n must be a number or 'adaptive'"):
        reranker.rerank(FLEA_QUERY, FLEA_DOCS, top_n="all")
    with pytest.raises(OptionError, match="an adaptive top_n needs calibrated scores"):
        minilm.rerank(FLEA_QUERY, FLEA_DOCS, top_n="adaptive", coverage=0.9)

import pytest

from conftest import data_path
from rankwise.io import read_qrels, read_run, write_run
from rankwise.pipelines.evaluate import evaluate, run_from_rankings
from rankwise.pipelines.rerank import rerank_requests
from rankwise.types import Ranking


def first_stage_rankings(requests):
    return [Ranking.first_stage(r) for r in requests]


def test_bm25_candidates_measure_the_official_ndcg(dl19_requests, tmp_path):
    qrels = read_qrels(data_path("dl19", "qrels.txt"))
    write_run(first_stage_rankings(dl19_requests), tmp_path / "bm25.trec")
    scores = evaluate(read_run(tmp_path / "bm25.trec"), qrels)
    assert scores["nDCG@10"] == pytest.approx(0.5058, abs=5e-5)


def test_splade_candidates_measure_the_official_ndcg():
    from rankwise.io import read_candidates

    requests = read_candidates(data_path("dl19", "splade_pp_ed_top100.json"))
    scores = evaluate(run_from_rankings(first_stage_rankings(requests)), read_qrels(data_path("dl19", "qrels.txt")))
    assert scores["nDCG@10"] == pytest.approx(0.7308, abs=5e-5)


def test_evaluate_agrees_with_ir_measures_directly(dl19_requests):
    import ir_measures

    qrels = read_qrels(data_path("dl19", "qrels.txt"))
    run = run_from_rankings(first_stage_rankings(dl19_requests))
    ours = evaluate(run, qrels)
    direct = ir_measures.calc_aggregate([ir_measures.parse_measure("AP(rel=2)@100")], qrels, run)
    assert ours["AP(rel=2)@100"] == pytest.approx(list(direct.values())[0])


def test_top_k_reranks_the_head_and_keeps_the_tail(minilm, dl19_requests):
    requests = dl19_requests[:2]
    report = rerank_requests(minilm, requests, top_k=10, queries_per_batch=1)
    for request, ranking in zip(requests, report.rankings):
        assert len(ranking) == 100
        head = {c.docid for c in request.candidates[:10]}
        assert set(ranking.docids[:10]) == head
        assert ranking.docids[10:] == [c.docid for c in request.candidates[10:]]
        assert [r.rank for r in ranking] == list(range(1, 101))
        scores = [r.score for r in ranking]
        assert scores == sorted(scores, reverse=True)
    assert report.documents == 20


def test_progress_reports_every_query(minilm, dl19_requests):
    seen = []
    rerank_requests(minilm, dl19_requests[:3], top_k=5, queries_per_batch=2, on_progress=seen.append)
    assert seen == [2, 1]


def test_documents_are_counted_as_the_method_reranks_them():
    """--top-k 6 over a method whose own top_k is 4: 4 documents per query are reranked, not 6."""
    from rankwise.rerankers.listwise.jointrank import JointRankReranker
    from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, WindowResult
    from rankwise.types import Candidate, Query, Request

    class Reverse(SlidingWindowReranker):
        method = "reverse"

        def rank_windows(self, windows):
            return [WindowResult(list(range(len(w.passages)))[::-1]) for w in windows]

    requests = [Request(Query(f"q{q}", "x"), [Candidate(f"d{i}", f"t{i}") for i in range(8)]) for q in range(2)]
    listwise = Reverse("reverse", window=4, stride=2, top_k=4)
    report = rerank_requests(listwise, requests, top_k=6)
    assert report.documents == 8
    assert report.rankings[0].docids == ["d3", "d2", "d1", "d0", "d4", "d5", "d6", "d7"]
    joint = JointRankReranker.build(Reverse("reverse", window=4, stride=4, top_k=4), "reverse", block_size=4, top_k=5)
    assert rerank_requests(joint, requests, top_k=6).documents == 10

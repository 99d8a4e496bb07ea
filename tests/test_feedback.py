"""Explicit relevance feedback (issue 40, item 8): a request names the candidates its user marked relevant;
embedding-prf and maxsim use them in place of their pseudo-relevant passages (Rocchio), in the Python API,
a candidates file and the service; every other method refuses feedback, and a docid that is not a
candidate is an error naming it."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest

from rankwise import Reranker
from rankwise.errors import InputError
from rankwise.io import read_candidates
from rankwise.server import ServerSettings, create_app
from server_helpers import threaded_server

QUERY = "how long do fleas live"


@pytest.fixture(scope="module")
def prf():
    return Reranker.load("minilm-embed", method="embedding-prf", prf_k=2, prf_beta=1.0)


def test_marked_passages_are_the_rocchio_feedback(prf, flea_docs):
    marked = [flea_docs[4].docid, flea_docs[2].docid]
    ranking = prf.rerank(QUERY, flea_docs, feedback=marked)
    assert ranking.trace["feedback"] == "explicit"
    assert ranking.trace["feedback_docids"] == [flea_docs[2].docid, flea_docs[4].docid]  # in candidate order
    encoder = prf.encoder
    query = encoder.embed_unit([QUERY])[0]
    vectors = encoder.embed_unit([d.text for d in flea_docs])
    expanded = query + vectors[[2, 4]].mean(0)
    expected = vectors @ (expanded / np.linalg.norm(expanded))
    got = {c.docid: c.score for c in ranking}
    assert [got[d.docid] for d in flea_docs] == pytest.approx(expected.tolist(), abs=1e-5)
    pseudo = prf.rerank(QUERY, flea_docs)
    assert pseudo.trace["feedback"] == "pseudo"
    assert pseudo.trace["feedback_docids"] != ranking.trace["feedback_docids"]  # the top 2 are not these two


def test_maxsim_takes_feedback_and_plain_methods_refuse_it(flea_docs):
    maxsim = Reranker.load("minilm-embed", method="maxsim")
    ranking = maxsim.rerank(QUERY, flea_docs, feedback=[flea_docs[1].docid])
    assert ranking.trace["feedback_docids"] == [flea_docs[1].docid] and ranking.trace["feedback"] == "explicit"
    plain = Reranker.load("minilm-embed", method="maxsim", prf_k=0)
    with pytest.raises(InputError, match="'maxsim' over 'minilm-embed' does not use relevance feedback"):
        plain.rerank(QUERY, flea_docs, feedback=[flea_docs[1].docid])


def test_feedback_must_name_candidates(prf, flea_docs, minilm):
    with pytest.raises(InputError, match=r"feedback names 'nope', not among its candidates"):
        prf.rerank(QUERY, flea_docs, feedback=["nope"])
    with pytest.raises(InputError, match="'embedding' over 'minilm-embed' does not use relevance feedback"):
        minilm.rerank(QUERY, flea_docs, feedback=[flea_docs[0].docid])
    assert prf.rerank(QUERY, ["fleas live a few months", "bread"], feedback=["0"]).trace["feedback_docids"] == ["0"]


def test_a_candidates_file_carries_feedback(tmp_path, flea_docs):
    entry = {
        "query": QUERY,
        "qid": "7",
        "feedback": [flea_docs[3].docid],
        "hits": [{"docid": d.docid, "content": d.text} for d in flea_docs],
    }
    path = tmp_path / "candidates.json"
    path.write_text(json.dumps([entry]))
    (request,) = read_candidates(path)
    assert request.query.feedback == (flea_docs[3].docid,)
    path.write_text(json.dumps([{**entry, "feedback": flea_docs[3].docid}]))
    with pytest.raises(InputError, match="'feedback' must be a list of docids"):
        read_candidates(path)
    path.write_text(json.dumps([{**entry, "feedback": ["missing"]}]))
    with pytest.raises(InputError, match="feedback names 'missing'"):
        read_candidates(path)


def test_the_service_takes_feedback_as_document_indices(prf, minilm, flea_docs):
    texts = [d.text for d in flea_docs]
    expected = prf.rerank(QUERY, texts, feedback=["1", "3"])
    app = create_app(prf, ServerSettings(model_name="prf"))
    with threaded_server(app) as base:
        body = {"query": QUERY, "documents": texts, "feedback": [1, 3]}
        answer = httpx.post(f"{base}/v2/rerank", json=body, timeout=60).json()
        assert [r["index"] for r in answer["results"]] == [int(d) for d in expected.docids]
        past = httpx.post(f"{base}/v2/rerank", json={**body, "feedback": [len(texts)]}, timeout=60)
        problem = f"feedback index {len(texts)} is past the {len(texts)} documents"
        assert past.status_code == 422 and problem in past.json()["error"]
        assert "feedback" in json.dumps(httpx.get(f"{base}/openapi.json").json()["components"])
        tei = httpx.post(f"{base}/rerank", json={"query": QUERY, "texts": texts, "feedback": [1, 3]}, timeout=60)
        assert [r["index"] for r in tei.json()] == [int(d) for d in expected.docids]
        voyage = httpx.post(f"{base}/voyage/v1/rerank", json={**body, "model": "prf"}, timeout=60)
        assert [r["index"] for r in voyage.json()["data"]] == [int(d) for d in expected.docids]
    plain = create_app(minilm, ServerSettings(model_name="minilm-embed"))
    with threaded_server(plain) as base:
        refused = httpx.post(f"{base}/v2/rerank", json={"query": QUERY, "documents": texts, "feedback": [0]})
        assert refused.status_code == 422 and "does not use relevance feedback" in refused.json()["error"]
        assert '"feedback"' not in json.dumps(httpx.get(f"{base}/openapi.json").json()["components"])


def test_the_result_cache_keys_on_feedback(tmp_path, flea_docs):
    cached = Reranker.load("minilm-embed", method="embedding-prf", cache=str(tmp_path / "cache"))
    pseudo = cached.rerank(QUERY, flea_docs)
    explicit = cached.rerank(QUERY, flea_docs, feedback=[flea_docs[4].docid])
    assert [c.score for c in pseudo] != [c.score for c in explicit]
    assert cached.rerank(QUERY, flea_docs, feedback=[flea_docs[4].docid]).docids == explicit.docids


def test_llm_pointwise_shows_the_marked_passages_as_answered_examples(flea_docs):
    """feedback_examples=k: before each other passage, up to k marked passages as the same prompt answered
    "Yes" (never a marked passage as its own example); without feedback the prompt is the plain one."""
    from rankwise.backends.chat_tokenizer import ChatTokenizer
    from rankwise.errors import OptionError
    from rankwise.models import resolve_model
    from rankwise.rerankers.pointwise.llm import LLMPointwiseReranker
    from rankwise.rerankers.prompts.pointwise import RELEVANCE_YES_NO
    from test_reasoning import ScriptedLM

    text = ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")
    lm = ScriptedLM(text, [])
    lm.capabilities = lm.capabilities | {"next-token-logprobs"}
    reranker = LLMPointwiseReranker.build(lm, "scripted", feedback_examples=1, answer_tokens="Yes,No")
    docs = flea_docs[:3]
    reranker.rerank(QUERY, docs, feedback=[docs[2].docid, docs[1].docid])

    def turn(passage):
        return RELEVANCE_YES_NO.messages(query=QUERY, passage=passage)[-1]

    answered = {"role": "assistant", "content": "Yes"}
    # the first marked passage in candidate order (docs[1]) is the one example; docs[1]'s own is docs[2]
    assert [text.decode(s) for s in lm.scored] == [
        text.chat_prefix([turn(docs[1].text), answered, turn(docs[0].text)]),
        text.chat_prefix([turn(docs[2].text), answered, turn(docs[1].text)]),
        text.chat_prefix([turn(docs[1].text), answered, turn(docs[2].text)]),
    ]
    lm.scored.clear()
    reranker.rerank(QUERY, docs[:1])
    assert [text.decode(s) for s in lm.scored] == [text.chat_prefix([turn(docs[0].text)])]
    plain = LLMPointwiseReranker.build(lm, "scripted", answer_tokens="Yes,No")
    with pytest.raises(InputError, match="does not use relevance feedback"):
        plain.rerank(QUERY, docs, feedback=[docs[1].docid])
    with pytest.raises(OptionError, match="feedback_examples shows marked passages as earlier chat turns"):
        LLMPointwiseReranker.build(lm, "scripted", feedback_examples=2, prompt="qwen3_reranker")

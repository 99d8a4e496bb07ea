"""A task instruction per request (vLLM #42412, Qwen3-Reranker's instruction slot): through the Python API,
every service dialect and the adapters it fills the prompt's slot exactly as the model card does; a method
without a slot refuses it, naming why, and never fails other requests' shared batch."""

import httpx
import pytest
from tests.test_checkpoints import PASSAGES, QUERY, qwen3_reranker_model_card_scores, qwen_tokenizer, tiny_qwen3  # noqa: F401

from rankwise import InputError, Reranker
from rankwise.server import ServerSettings, create_app
from rankwise.types import Query, Request
from server_helpers import threaded_server

INSTRUCTION = "Find the passage that answers the question"


@pytest.fixture(scope="module")
def qwen3(tiny_qwen3):  # noqa: F811
    return Reranker.load(str(tiny_qwen3), preset="qwen3-reranker", batch_size=3)


def test_each_request_carries_its_own_instruction(qwen3, tiny_qwen3):  # noqa: F811
    with_it = qwen3_reranker_model_card_scores(str(tiny_qwen3), INSTRUCTION, [(QUERY, p) for p in PASSAGES])
    default = qwen3_reranker_model_card_scores(str(tiny_qwen3), None, [(QUERY, p) for p in PASSAGES])
    assert max(abs(a - b) for a, b in zip(with_it, default)) > 1e-4  # the instruction matters on these weights
    candidates = [str(p) for p in PASSAGES]
    both = qwen3.rerank_batch(
        [
            Request.build(Query("a", QUERY, INSTRUCTION), candidates),
            Request.build(Query("b", QUERY), candidates),
        ]
    )
    for ranking, reference in zip(both, (with_it, default)):
        got = {r.docid: r.score for r in ranking}
        assert [got[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-4)
    one = {r.docid: r.score for r in qwen3.rerank(QUERY, candidates, instruction=INSTRUCTION)}
    assert [one[str(i)] for i in range(len(PASSAGES))] == pytest.approx(with_it, abs=1e-4)


def test_a_method_without_a_slot_refuses_it():
    with pytest.raises(InputError, match="'embedding' over 'minilm-embed' has no instruction slot to fill"):
        Reranker.load("minilm-embed").rerank("fleas", ["a flea"], instruction="x")
    documents = pytest.importorskip("langchain_core.documents")
    from rankwise.integrations.langchain import RankwiseRerank

    adapter = RankwiseRerank(model="minilm-embed", instruction="x")
    with pytest.raises(InputError, match="has no instruction slot"):
        adapter.compress_documents([documents.Document(page_content="a flea")], "fleas")


def test_every_dialect_takes_an_instruction(qwen3, tiny_qwen3):  # noqa: F811
    reference = qwen3_reranker_model_card_scores(str(tiny_qwen3), INSTRUCTION, [(QUERY, p) for p in PASSAGES])
    texts = [str(p) for p in PASSAGES]
    with threaded_server(create_app(qwen3, ServerSettings(model_name="qwen3"))) as base:
        tei = httpx.post(
            f"{base}/rerank", json={"query": QUERY, "texts": texts, "raw_scores": True, "instruction": INSTRUCTION}
        ).json()
        assert [r["score"] for r in sorted(tei, key=lambda r: r["index"])] == pytest.approx(reference, abs=1e-4)
        score = httpx.post(
            f"{base}/v1/score",
            json={"text_1": QUERY, "text_2": texts, "use_activation": False, "instruction": INSTRUCTION},
        ).json()
        assert [d["score"] for d in score["data"]] == pytest.approx(reference, abs=1e-4)
        for path, body in (
            ("/v2/rerank", {"documents": texts}),
            ("/voyage/v1/rerank", {"documents": texts}),
        ):
            answer = httpx.post(f"{base}{path}", json={"query": QUERY, "instruction": INSTRUCTION, **body}).json()
            results = answer.get("results") or answer["data"]
            order = [r["index"] for r in results]
            assert order == sorted(range(len(PASSAGES)), key=lambda i: -reference[i])


def test_a_refused_instruction_is_a_422_before_batching():
    with threaded_server(create_app(Reranker.load("minilm-embed"), ServerSettings(model_name="m"))) as base:
        refused = httpx.post(f"{base}/v2/rerank", json={"query": "q", "documents": ["a"], "instruction": "x"})
        assert refused.status_code == 422 and "has no instruction slot" in refused.json()["error"]
        assert httpx.post(f"{base}/v2/rerank", json={"query": "q", "documents": ["a"]}).status_code == 200


def test_the_mcp_tool_refuses_an_instruction_without_a_slot():
    import threading

    from rankwise.server.mcp import RerankCall, answer

    call = RerankCall(query="fleas", documents=["a flea"], instruction="x")
    with pytest.raises(InputError, match="has no instruction slot"):
        answer(Reranker.load("minilm-embed"), "m", ServerSettings(model_name="m"), call, threading.Lock())

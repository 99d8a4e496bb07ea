"""Every rerank dialect against a real `rankwise serve` process over HTTP: Cohere's and Voyage's own Python
SDKs, vLLM's score API in each body shape it takes, and /rerank telling TEI's body from Jina's (vLLM's)."""

import httpx
import pytest

from rankwise import Reranker
from server_helpers import cli_server

QUERY = "how long do fleas live"
DOCUMENTS = [
    "Sourdough starters need daily feeding.",
    "Adult fleas live for two to three months on a host.",
    "Flea eggs hatch in one to ten days.",
]


@pytest.fixture(scope="module")
def server():
    with cli_server("-m", "minilm-embed") as (base, _):
        yield base


@pytest.fixture(scope="module")
def expected():
    """What the Python API gives for the same model: the order and the raw scores, in input order."""
    ranking = Reranker.load("minilm-embed").rerank(QUERY, DOCUMENTS)
    by_docid = {r.docid: r.score for r in ranking}
    return ranking.docids, [by_docid[str(i)] for i in range(len(DOCUMENTS))]


def test_cohere_sdk_v1_and_v2(server, expected):
    cohere = pytest.importorskip("cohere")
    order, _ = expected
    v2 = cohere.ClientV2(api_key="unused", base_url=server).rerank(
        model="minilm-embed", query=QUERY, documents=DOCUMENTS, top_n=2
    )
    assert [str(r.index) for r in v2.results] == order[:2]
    assert 0 <= v2.results[1].relevance_score <= v2.results[0].relevance_score <= 1
    v1 = cohere.Client(api_key="unused", base_url=server).rerank(
        model="minilm-embed", query=QUERY, documents=DOCUMENTS, top_n=3, return_documents=True
    )
    assert [str(r.index) for r in v1.results] == order
    assert v1.results[0].document.text == DOCUMENTS[int(order[0])]


def test_voyage_sdk(server, expected):
    voyageai = pytest.importorskip("voyageai")
    order, _ = expected
    client = voyageai.Client(api_key="unused", base_url=f"{server}/voyage/v1", max_retries=0)
    result = client.rerank(QUERY, DOCUMENTS, model="minilm-embed", top_k=2)
    assert [str(r.index) for r in result.results] == order[:2]
    assert result.results[0].document == DOCUMENTS[int(order[0])] and result.total_tokens > 0
    refused = httpx.post(
        f"{server}/voyage/v1/rerank",
        json={"query": QUERY, "documents": ["x" * 300_000], "truncation": False},
        timeout=60,
    )
    assert refused.status_code == 413 and "send truncation=true to cut it" in refused.json()["error"]


@pytest.mark.parametrize("path", ["/score", "/v1/score"])
def test_vllm_score_in_every_body_shape(server, expected, path):
    _, raw = expected
    one = httpx.post(
        f"{server}{path}", json={"model": "minilm-embed", "text_1": QUERY, "text_2": DOCUMENTS[1]}, timeout=60
    ).json()
    assert one["object"] == "list" and one["data"] == [
        {"index": 0, "object": "score", "score": one["data"][0]["score"]}
    ]
    assert one["usage"]["total_tokens"] > 0
    many = httpx.post(
        f"{server}{path}", json={"text_1": QUERY, "text_2": DOCUMENTS, "use_activation": False}, timeout=60
    )
    assert [d["score"] for d in many.json()["data"]] == pytest.approx(raw, abs=1e-5)
    as_queries = httpx.post(
        f"{server}{path}", json={"queries": QUERY, "documents": DOCUMENTS, "use_activation": False}, timeout=60
    )
    assert [d["score"] for d in as_queries.json()["data"]] == pytest.approx(raw, abs=1e-5)
    pairs = httpx.post(
        f"{server}{path}",
        json={"text_1": [QUERY, "how do you feed a sourdough starter"], "text_2": [DOCUMENTS[1], DOCUMENTS[0]]},
        timeout=60,
    ).json()
    assert [d["index"] for d in pairs["data"]] == [0, 1] and all(d["score"] > 0.5 for d in pairs["data"])
    mismatch = httpx.post(f"{server}{path}", json={"text_1": [QUERY, QUERY], "text_2": DOCUMENTS}, timeout=60)
    assert mismatch.status_code == 422
    assert "text_1 has 2 texts and text_2 3: give one of either, or as many of each" in mismatch.json()["error"]
    neither = httpx.post(f"{server}{path}", json={"text_1": QUERY, "documents": DOCUMENTS}, timeout=60)
    assert neither.status_code == 422 and "text_1 and text_2, or queries and documents" in neither.json()["error"]


def test_rerank_tells_tei_from_jina_by_the_body(server, expected):
    order, _ = expected
    tei = httpx.post(f"{server}/rerank", json={"query": QUERY, "texts": DOCUMENTS}, timeout=60)
    assert [str(r["index"]) for r in tei.json()] == order and "results" not in tei.json()
    jina = httpx.post(
        f"{server}/rerank",
        json={"model": "minilm-embed", "query": QUERY, "documents": DOCUMENTS, "top_n": 2},
        timeout=60,
    )
    body = jina.json()
    assert [str(r["index"]) for r in body["results"]] == order[:2]
    assert body["results"][0]["document"]["text"] == DOCUMENTS[int(order[0])] and body["usage"]["total_tokens"] > 0
    neither = httpx.post(f"{server}/rerank", json={"query": QUERY, "passages": DOCUMENTS}, timeout=60)
    assert neither.status_code == 422
    assert "texts (TEI's shape) or documents (Jina's and vLLM's shape)" in neither.json()["error"]

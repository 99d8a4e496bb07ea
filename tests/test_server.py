"""The HTTP service, called over real HTTP on 127.0.0.1."""

from __future__ import annotations

import concurrent.futures
import re
import threading
import time

import httpx
import pytest
from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

from rankwise.rerankers.base import PointwiseReranker
from rankwise.server import ServerSettings, create_app
from server_helpers import threaded_server

DOCS, QUERY = FLEA_PASSAGES, FLEA_QUERY


@pytest.fixture(scope="module")
def minilm_server(minilm):
    app = create_app(minilm, ServerSettings(model_name="minilm-embed", max_documents=50))
    with threaded_server(app) as base:
        yield base


def test_cohere_v2_request_body_works_unchanged(minilm_server, minilm):
    # the body Cohere's v2 docs show, pointed at this service (its model named as this service serves it;
    # `serve -m rerank-v3.5=minilm-embed` would serve it under Cohere's name)
    body = {"model": "minilm-embed", "query": QUERY, "documents": DOCS, "top_n": 3}
    response = httpx.post(f"{minilm_server}/v2/rerank", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["id"] == response.headers["x-request-id"]
    assert [r["index"] for r in data["results"]] == [1, 3, 2]
    expected = {int(r.docid): r.score for r in minilm.rerank(QUERY, DOCS)}
    for r in data["results"]:
        # a cosine in [-1, 1], mapped onto Cohere's documented [0, 1]
        assert r["relevance_score"] == pytest.approx((1 + expected[r["index"]]) / 2, abs=1e-5)
        assert "document" not in r  # Cohere v2 returns no documents
    assert data["meta"] == {
        "api_version": {"version": "2"},
        "billed_units": {"search_units": 1},
        "score_kind": "cosine",
    }
    # Jina's usage counts model tokens, not words
    assert data["usage"]["total_tokens"] == sum(minilm.token_counter.count_tokens([QUERY, *DOCS]))
    assert data["usage"]["total_tokens"] > len(QUERY.split()) + sum(len(d.split()) for d in DOCS)


def test_v1_returns_documents_as_sent_with_their_ids(minilm_server):
    long_text = DOCS[1] + " " + "x" * 40000  # over the 32,768-character model limit
    documents = [{"text": DOCS[0], "id": "bread"}, {"text": long_text, "id": "flea", "metadata": {"lang": "en"}}]
    data = httpx.post(f"{minilm_server}/v1/rerank", json={"query": QUERY, "documents": documents}).json()
    assert data["meta"]["api_version"] == {"version": "1"}
    first = data["results"][0]
    assert first["index"] == 1
    assert first["document"] == {"text": long_text, "id": "flea", "metadata": {"lang": "en"}}
    assert data["results"][1]["document"] == {"text": DOCS[0], "id": "bread"}
    asked = httpx.post(
        f"{minilm_server}/v2/rerank", json={"query": QUERY, "documents": DOCS, "return_documents": True}
    ).json()
    assert asked["results"][0]["document"] == {"text": DOCS[1]}


def test_jina_request_body_works_unchanged(minilm_server):
    body = {
        "query": QUERY,
        "documents": [{"text": d} for d in DOCS],
        "top_n": 2,
        "return_documents": False,
    }
    data = httpx.post(f"{minilm_server}/v1/rerank", json=body).json()
    assert [r["index"] for r in data["results"]] == [1, 3]
    assert all("document" not in r for r in data["results"])
    scores = [r["relevance_score"] for r in data["results"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)


def test_tei_shape(minilm_server):
    data = httpx.post(f"{minilm_server}/rerank", json={"query": QUERY, "texts": DOCS, "return_text": True}).json()
    assert [r["index"] for r in data] == [1, 3, 2, 0]
    assert all(0 < r["score"] < 1 for r in data) and data[0]["text"] == DOCS[1]
    raw = httpx.post(f"{minilm_server}/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True}).json()
    # cosines: the [0, 1] score is (1 + cosine) / 2, not a sigmoid (which would give an unrelated text 0.5+)
    assert raw[0]["score"] == pytest.approx(2 * data[0]["score"] - 1, abs=1e-5)
    assert raw[-1]["score"] < 0.2 and data[-1]["score"] == pytest.approx((1 + raw[-1]["score"]) / 2, abs=1e-5)
    assert "text" not in raw[0]


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"query": "  ", "documents": DOCS}, 422, "query is empty"),
        ({"query": QUERY, "documents": []}, 422, "documents is empty"),
        ({"query": QUERY, "documents": ["ok", " "]}, 422, r"documents\[1\] is empty"),
        ({"documents": DOCS}, 422, "query: Field required"),
        ({"query": QUERY, "documents": ["d"] * 51}, 413, "51 documents, over the limit of 50"),
        ({"query": "q" * 9000, "documents": DOCS}, 413, "query has 9000 characters"),
        ({"query": QUERY, "documents": DOCS, "top_n": -1}, 422, "top_n"),
    ],
)
def test_bad_requests_name_the_problem(minilm_server, body, status, message):
    response = httpx.post(f"{minilm_server}/v1/rerank", json=body)
    assert response.status_code == status, response.text
    assert re.search(message, response.json()["error"])
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_malformed_json_is_400_and_tei_length_limit(minilm_server):
    response = httpx.post(
        f"{minilm_server}/v1/rerank",
        content=b'{"query": "x", "documents": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"].startswith("malformed JSON body: Expecting value")
    long_text = "fleas " * 7000
    refused = httpx.post(f"{minilm_server}/rerank", json={"query": QUERY, "texts": [long_text]})
    assert refused.status_code == 413 and "send truncate=true" in refused.json()["error"]
    cut = httpx.post(f"{minilm_server}/rerank", json={"query": QUERY, "texts": [long_text], "truncate": True})
    assert cut.status_code == 200


def test_tei_and_jina_count_model_tokens(minilm_server, minilm):
    counter = minilm.token_counter  # MiniLM: 256 tokens per input
    # 300 words, far under the character limit but over the model's token limit
    words = " ".join(["fleas live for months"] * 75)
    refused = httpx.post(f"{minilm_server}/rerank", json={"query": QUERY, "texts": ["short", words]})
    assert refused.status_code == 413
    assert refused.json()["error"].startswith(f"texts[1] has {counter.count_tokens([words])[0]} tokens")
    kept = httpx.post(
        f"{minilm_server}/rerank",
        json={"query": QUERY, "texts": ["short", words], "truncate": True, "return_text": True},
    ).json()
    cut = next(r["text"] for r in kept if r["index"] == 1)
    room = 256 - counter.count_tokens([QUERY])[0] - 3
    assert words.startswith(cut) and counter.count_tokens([cut]) == [room]
    # Jina's max_tokens_per_doc cuts by model tokens too: "fleas" is two of them
    body = {"query": QUERY, "documents": ["fleas fleas fleas fleas"], "max_tokens_per_doc": 3}
    response = httpx.post(f"{minilm_server}/v1/rerank", json=body).json()
    assert response["usage"]["total_tokens"] == counter.count_tokens([QUERY])[0] + 3


def test_every_error_has_one_shape(minilm_server):
    refusals = [
        httpx.post(f"{minilm_server}/v1/rerank", content=b'{"query": ', headers={"content-type": "application/json"}),
        httpx.post(f"{minilm_server}/v1/rerank", json={"query": "", "documents": DOCS}),
        httpx.post(
            f"{minilm_server}/v1/rerank",
            content=b"query=fleas",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        httpx.post(f"{minilm_server}/rerank", content=b"fleas", headers={"content-type": "text/plain"}),
        httpx.get(f"{minilm_server}/no/such/route"),
        httpx.get(f"{minilm_server}/v1/rerank"),
        httpx.post(f"{minilm_server}/v1/rerank", json={"query": QUERY, "documents": ["d"] * 51}),
    ]
    assert [r.status_code for r in refusals] == [400, 422, 415, 415, 404, 405, 413]
    for response in refusals:
        body = response.json()
        assert set(body) >= {"error", "type", "error_type", "request_id"}, body
        assert body["request_id"] == response.headers["x-request-id"] and body["type"] == body["error_type"]
    assert [r.json()["type"] for r in refusals[:6]] == [
        "invalid_request",
        "validation",
        "unsupported_media_type",
        "unsupported_media_type",
        "not_found",
        "method_not_allowed",
    ]
    assert "application/x-www-form-urlencoded" in refusals[2].json()["error"]
    assert "Content-Type: application/json" in refusals[3].json()["error"]
    # no Content-Type at all is taken as JSON
    bare = httpx.post(f"{minilm_server}/v1/rerank", content=b'{"query": "fleas", "documents": ["a flea"]}')
    assert bare.status_code == 200


def test_openapi_health_models_and_metrics(minilm_server):
    assert httpx.get(f"{minilm_server}/health").json() == {"status": "ok"}
    assert httpx.get(f"{minilm_server}/ready").json()["model"] == "minilm-embed"
    schema = httpx.get(f"{minilm_server}/openapi.json").json()
    assert {"/v1/rerank", "/v2/rerank", "/rerank"} <= set(schema["paths"])
    assert {"400", "413", "415", "422"} <= set(schema["paths"]["/v2/rerank"]["post"]["responses"])
    assert httpx.get(f"{minilm_server}/v1/models").json()["data"] == [
        {
            "id": "minilm-embed",
            "object": "model",
            "owned_by": "rankwise",
            "method": "embedding",
            "score_kind": "cosine",
            "parent": None,
            "ready": True,
        }
    ]
    before = _counter(httpx.get(f"{minilm_server}/metrics").text, "/v1/rerank", "200")
    httpx.post(f"{minilm_server}/v1/rerank", json={"query": QUERY, "documents": DOCS})
    httpx.post(f"{minilm_server}/v1/rerank", json={"query": "", "documents": DOCS})
    text = httpx.get(f"{minilm_server}/metrics").text
    assert _counter(text, "/v1/rerank", "200") == before + 1
    assert _counter(text, "/v1/rerank", "422") >= 1
    assert 'rankwise_batch_pairs_count{model="minilm-embed"}' in text
    assert 'rankwise_queue_pairs{model="minilm-embed"} 0.0' in text
    assert "rankwise_request_seconds_bucket" in text
    httpx.get(f"{minilm_server}/docs")
    text = httpx.get(f"{minilm_server}/metrics").text
    assert _counter(text, "/openapi.json", "200") >= 1 and _counter(text, "/docs", "200") >= 1
    assert "process_resident_memory_bytes" in text and "process_open_fds" in text


def _counter(text: str, route: str, code: str) -> float:
    """The requests counted for a route and code, over every model label."""
    pattern = rf'rankwise_requests_total\{{code="{code}",model="[^"]*",route="{re.escape(route)}"\}} ([0-9.e+]+)'
    return sum(float(value) for value in re.findall(pattern, text))


class RecordingReranker(PointwiseReranker):
    """Scores pairs by passage length, recording each model call; fails on the query 'explode'."""

    method = "recording"

    def __init__(self, delay: float = 0.0):
        super().__init__("recording")
        self.calls: list[int] = []
        self.batches: list[list[str]] = []  # the query of each pair, per model call
        self.delay = delay

    @classmethod
    def from_model(cls, location, **options):
        raise NotImplementedError

    def score_pairs(self, pairs):
        self.calls.append(len(pairs))
        self.batches.append([q.text for q, _ in pairs])
        time.sleep(self.delay)
        if any(q.text == "explode" for q, _ in pairs):
            raise RuntimeError("model crashed")
        return [float(len(c.text)) for _, c in pairs]


def test_concurrent_requests_share_model_calls_and_big_requests_are_split():
    reranker = RecordingReranker(delay=0.05)
    app = create_app(reranker, ServerSettings(model_name="rec", max_batch_pairs=64, max_wait_ms=40))
    with threaded_server(app) as base:
        body = {"query": "q", "documents": ["a" * (i + 1) for i in range(5)]}
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: httpx.post(f"{base}/v1/rerank", json=body, timeout=30), range(8)))
        assert all(r.status_code == 200 for r in responses)
        assert all([x["index"] for x in r.json()["results"]] == [4, 3, 2, 1, 0] for r in responses)
        assert sum(reranker.calls) == 40 and len(reranker.calls) < 8 and max(reranker.calls) > 5
        reranker.calls.clear()
        big = {"query": "q", "documents": [f"doc {i}" + "x" * i for i in range(300)]}
        response = httpx.post(f"{base}/v1/rerank", json=big, timeout=60)
        assert response.status_code == 200 and len(response.json()["results"]) == 300
        assert response.json()["results"][0]["index"] == 299
        assert reranker.calls == [16] * 18 + [12]  # alone, a request is scored a quarter batch at a time


def _wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.01)


def _pairs_scored(reranker: RecordingReranker, query: str) -> int:
    return sum(batch.count(query) for batch in list(reranker.batches))


def test_a_small_request_is_not_stuck_behind_a_large_one():
    reranker = RecordingReranker(delay=0.05)
    app = create_app(reranker, ServerSettings(model_name="rec", max_batch_pairs=8, max_wait_ms=1))
    with threaded_server(app) as base, concurrent.futures.ThreadPoolExecutor(2) as pool:
        big = pool.submit(httpx.post, f"{base}/v1/rerank", json={"query": "big", "documents": ["d"] * 200}, timeout=60)
        _wait_until(lambda: reranker.batches)
        small = httpx.post(f"{base}/v1/rerank", json={"query": "small", "documents": ["a", "bb"]}, timeout=60)
        assert small.status_code == 200 and [r["index"] for r in small.json()["results"]] == [1, 0]
        assert not big.done(), "the small request waited for the whole large one"
        first_small = next(i for i, batch in enumerate(reranker.batches) if "small" in batch)
        assert "big" in reranker.batches[first_small]  # they shared a batch: round-robin, not FIFO
        assert big.result().status_code == 200 and _pairs_scored(reranker, "big") == 200


def test_a_request_whose_client_leaves_stops_being_scored():
    reranker = RecordingReranker(delay=0.05)
    app = create_app(reranker, ServerSettings(model_name="rec", max_batch_pairs=8))
    with threaded_server(app) as base:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v1/rerank", json={"query": "gone", "documents": ["d"] * 400}, timeout=0.5)
        _wait_until(lambda: app.state.batcher.queued == 0)
        scored = _pairs_scored(reranker, "gone")
        assert 0 < scored < 400
        ok = httpx.post(f"{base}/v1/rerank", json={"query": "next", "documents": ["a"]}, timeout=30)
        assert ok.status_code == 200 and _pairs_scored(reranker, "gone") == scored
        metrics = httpx.get(f"{base}/metrics").text
        assert _counter(metrics, "/v1/rerank", "499") == 1


def test_a_request_over_its_deadline_gets_504_and_its_work_is_dropped():
    reranker = RecordingReranker(delay=0.05)
    app = create_app(reranker, ServerSettings(model_name="rec", max_batch_pairs=8, request_timeout=0.5))
    with threaded_server(app) as base:
        late = httpx.post(f"{base}/v1/rerank", json={"query": "late", "documents": ["d"] * 400}, timeout=60)
        assert late.status_code == 504
        assert late.json()["error"] == "not answered within the request timeout of 0.5 s"
        _wait_until(lambda: app.state.batcher.queued == 0)
        assert 0 < _pairs_scored(reranker, "late") < 400


def test_failing_model_gives_500_with_request_id_and_the_server_keeps_serving():
    app = create_app(RecordingReranker(), ServerSettings(model_name="rec"))
    with threaded_server(app) as base:
        failed = httpx.post(f"{base}/v1/rerank", json={"query": "explode", "documents": ["a"]})
        assert failed.status_code == 500
        assert failed.json()["request_id"] == failed.headers["x-request-id"] and failed.json()["request_id"]
        ok = httpx.post(f"{base}/v1/rerank", json={"query": "fine", "documents": ["a", "bb"]})
        assert ok.status_code == 200 and ok.json()["results"][0]["index"] == 1


def test_full_queue_answers_503_with_retry_after():
    reranker = RecordingReranker(delay=1.0)
    app = create_app(reranker, ServerSettings(model_name="rec", max_queue_pairs=10, max_batch_pairs=10))
    with threaded_server(app) as base:
        never = httpx.post(f"{base}/v1/rerank", json={"query": "q", "documents": ["d"] * 11})
        assert never.status_code == 413  # bigger than the whole queue: retrying can never help
        assert never.json()["error"] == "11 documents can never fit the queue of 10 pairs; split the request"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            slow = pool.submit(httpx.post, f"{base}/v1/rerank", json={"query": "q", "documents": ["d"] * 8}, timeout=30)
            _wait_until(lambda: app.state.batcher.queued == 8)  # the first request holds 8 of the 10 pairs
            before = app.state.batcher.seconds_to_drain(1)
            second = httpx.post(f"{base}/v1/rerank", json={"query": "q", "documents": ["d"] * 5})
            after = app.state.batcher.seconds_to_drain(1)
            assert second.status_code == 503 and "overloaded" in second.json()["error"]
            # the queue's own estimate (1 s until a batch has been timed; a batch may end meanwhile)
            assert min(before, after) <= int(second.headers["retry-after"]) <= max(before, after)
            assert slow.result().status_code == 200


def test_not_ready_until_the_model_has_loaded():
    def slow_loader():
        time.sleep(1.5)
        return RecordingReranker()

    import uvicorn

    from server_helpers import free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(slow_loader, ServerSettings(model_name="rec")), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        seen_loading = False
        for _ in range(100):
            try:
                health = httpx.get(f"{base}/health", timeout=1)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            ready = httpx.get(f"{base}/ready", timeout=1)
            if ready.status_code == 503:
                seen_loading = True
                assert health.status_code == 200 and ready.json()["error"] == "loading"
            else:
                break
            time.sleep(0.1)
        assert httpx.get(f"{base}/ready").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert seen_loading


def test_one_application_serves_one_lifespan_after_another(minilm):
    """A TestClient per test over one app (or an app remounted): each lifespan gets an inference thread of its
    own, where the second used to answer 500 on the first's shut executor."""
    from fastapi.testclient import TestClient

    app = create_app(minilm, ServerSettings(model_name="minilm-embed"))
    answers = []
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post("/rerank", json={"query": FLEA_QUERY, "texts": FLEA_PASSAGES[:3]})
            assert response.status_code == 200, response.text
            answers.append(response.json())
    assert answers[0] == answers[1]

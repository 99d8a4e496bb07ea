"""Every method through the service: listwise FIRST and generation on a real small LLM over real HTTP,
batched across concurrent requests through the same interface as pointwise methods; score kinds mapped
onto [0, 1]."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest
from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

from rankwise import Reranker, ScoreKind
from rankwise.server import ServerSettings, create_app
from server_helpers import threaded_server

DOCS, QUERY = FLEA_PASSAGES, FLEA_QUERY


@pytest.mark.parametrize(
    "kind, raw, expected",
    [
        (ScoreKind.COSINE, [-1.0, 0.0, 0.5, 1.2], [0.0, 0.5, 0.75, 1.0]),
        (ScoreKind.LOGIT, [0.0, 2.0, -2.0], [0.5, 0.8807970779778823, 0.11920292202211755]),
        (ScoreKind.LOG_PROBABILITY, [0.0, -0.6931471805599453, 0.1], [1.0, 0.5, 1.0]),
        (ScoreKind.PROBABILITY, [0.2, 1.3, -0.1], [0.2, 1.0, 0.0]),
        (ScoreKind.ORDINAL, [4.0, 3.0, 3.0, 1.0], [1.0, 0.75, 0.75, 0.25]),
        (ScoreKind.STANDARDIZED, [0.0], [0.5]),
    ],
)
def test_each_score_kind_maps_onto_the_unit_interval(kind, raw, expected):
    assert kind.to_unit_interval(raw) == pytest.approx(expected)


def test_rankings_say_what_their_scores_are(minilm):
    assert minilm.rerank(QUERY, DOCS).score_kind is ScoreKind.COSINE
    assert Reranker.load("minilm-embed", method="maxsim").rerank(QUERY, DOCS).score_kind is ScoreKind.STANDARDIZED
    assert Reranker.load("minilm-embed", method="maxsim", prf_k=0).rerank(QUERY, DOCS).score_kind is ScoreKind.COSINE


@pytest.fixture(scope="module")
def first_reranker():
    return Reranker.load("smollm2-135m", method="first", window=4, stride=2)


@pytest.mark.slow  # 11 s per method; test_server_every_method runs each over HTTP
@pytest.mark.parametrize("method", ["first", "listwise-generate"])
def test_listwise_methods_answer_over_http_as_in_python(method, first_reranker):
    reranker = first_reranker if method == "first" else Reranker.load("smollm2-135m", method=method, window=4, stride=2)
    expected = [int(r.docid) for r in reranker.rerank(QUERY, DOCS)]
    with threaded_server(create_app(reranker, ServerSettings(model_name="smollm2-135m"))) as base:
        data = httpx.post(f"{base}/v1/rerank", json={"query": QUERY, "documents": DOCS}, timeout=120).json()
        tei = httpx.post(f"{base}/rerank", json={"query": QUERY, "texts": DOCS, "raw_scores": True}, timeout=120).json()
    assert [r["index"] for r in data["results"]] == expected
    assert [r["relevance_score"] for r in data["results"]] == [1.0, 0.75, 0.5, 0.25]
    assert data["meta"]["score_kind"] == "ordinal"
    assert [r["index"] for r in tei] == expected and [r["score"] for r in tei] == [4.0, 3.0, 2.0, 1.0]


def test_concurrent_listwise_requests_share_model_calls(first_reranker):
    calls: list[int] = []
    scored_requests = first_reranker.scored_requests

    def recording(requests):
        calls.append(len(requests))
        return scored_requests(requests)

    first_reranker.scored_requests = recording
    try:
        settings = ServerSettings(model_name="smollm2-135m", max_wait_ms=300)
        expected = [int(r.docid) for r in first_reranker.rerank(QUERY, DOCS)]
        with threaded_server(create_app(first_reranker, settings)) as base:
            calls.clear()
            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                answers = list(
                    pool.map(
                        lambda _: httpx.post(
                            f"{base}/v1/rerank", timeout=120, json={"query": QUERY, "documents": DOCS}
                        ).json(),
                        range(3),
                    )
                )
    finally:
        del first_reranker.scored_requests
    assert all([r["index"] for r in a["results"]] == expected for a in answers)
    assert sum(calls) == 3 and max(calls) >= 2, calls  # windows of different requests in one call


@pytest.mark.slow  # 13 s
def test_reasoning_is_returned_only_when_asked_with_each_passage_named():
    """reasoning-pointwise on SmolLM2 at a budget of 8 tokens: with return_reasoning each passage's thinking
    comes back under its document's index, as the Python trace has it; without it, no `reasoning` field."""
    reranker = Reranker.load("smollm2-135m", method="reasoning-pointwise", reasoning_budget=8)
    docs = DOCS[:3]
    trace = reranker.rerank(QUERY, docs).trace["reasoning"]
    with threaded_server(create_app(reranker, ServerSettings(model_name="smollm2-135m"))) as base:
        asked = httpx.post(
            f"{base}/v2/rerank", json={"query": QUERY, "documents": docs, "return_reasoning": True}, timeout=120
        ).json()
        plain = httpx.post(f"{base}/v2/rerank", json={"query": QUERY, "documents": docs}, timeout=120).json()
    steps = sorted(asked["reasoning"], key=lambda step: step["index"])
    assert [step["index"] for step in steps] == [0, 1, 2] and {s["unit"] for s in steps} == {"passage"}
    assert [(s["reasoning"], s["reasoning_tokens"], s["ended"]) for s in steps] == [
        (t["reasoning"], t["reasoning_tokens"], t["ended"]) for t in sorted(trace, key=lambda t: int(t["docid"]))
    ]
    assert all(0 < s["reasoning_tokens"] <= 8 for s in steps)
    assert "reasoning" not in plain and [r["index"] for r in plain["results"]] == [r["index"] for r in asked["results"]]


@pytest.mark.slow  # 17 s; test_server_deadlines covers deadlines per method
def test_a_listwise_request_past_its_deadline_stops_the_model_at_its_next_window():
    """listwise-generate over 120 passages (59 windows of 4 by 2) with an 8 s deadline: a 504, and the window
    loop stops at its next model call instead of running on for nobody; a small request sent afterwards
    is answered with its full ranking."""
    reranker = Reranker.load("smollm2-135m", method="listwise-generate", window=4, stride=2)
    reranker.rerank(QUERY, DOCS[:3])  # the first generation warms the model up and takes far longer
    calls: list[int] = []
    generate = reranker.lm.generate

    def counting(sequences, *args, **kwargs):
        calls.append(len(sequences))
        return generate(sequences, *args, **kwargs)

    reranker.lm.generate = counting
    passages = [f"{DOCS[i % len(DOCS)]} (copy {i})" for i in range(120)]
    settings = ServerSettings(model_name="smollm2-135m", request_timeout=8.0)
    with threaded_server(create_app(reranker, settings)) as base:
        late = httpx.post(f"{base}/v1/rerank", json={"query": QUERY, "documents": passages}, timeout=120)
        small = httpx.post(f"{base}/v1/rerank", json={"query": QUERY, "documents": DOCS[:3]}, timeout=120)
    assert late.status_code == 504
    assert small.status_code == 200 and sorted(r["index"] for r in small.json()["results"]) == [0, 1, 2]
    windows_of_the_late_request = len(calls) - 1  # the small request took one window
    assert 1 <= windows_of_the_late_request < 59, calls

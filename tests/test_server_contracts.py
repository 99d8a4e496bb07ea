"""API contracts of the service over real HTTP: strict types, request ids safe to log, CORS only when asked,
and 503s while draining that close the connection."""

from __future__ import annotations

import httpx
import pytest

from rankwise.server import ServerSettings, create_app
from server_helpers import threaded_server
from test_server import RecordingReranker

BODY = {"query": "how long do fleas live", "documents": ["fleas live months", "bread"]}


@pytest.fixture(scope="module")
def base():
    app = create_app(
        RecordingReranker(),
        ServerSettings(model_name="rec", api_keys=frozenset({"k1"}), cors_origins=("https://app.example.com",)),
    )
    with threaded_server(app) as url:
        yield url


AUTH = {"Authorization": "Bearer k1"}


@pytest.mark.parametrize(
    "field,value",
    [("top_n", "1"), ("top_n", True), ("return_documents", "false"), ("max_tokens_per_doc", 2.5), ("query", 7)],
)
def test_values_of_the_wrong_type_are_refused_not_coerced(base, field, value):
    response = httpx.post(f"{base}/v1/rerank", json={**BODY, field: value}, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(f"{field}: ")


def test_tei_booleans_are_strict_too(base):
    response = httpx.post(f"{base}/rerank", json={"query": "q", "texts": ["a"], "raw_scores": "true"}, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"].startswith("raw_scores: ")


def test_client_request_ids_are_cut_and_cleaned_before_use(base):
    long_id = 'abc-123 <script>"quoted"' + "x" * 8000
    response = httpx.post(f"{base}/v1/rerank", json=BODY, headers={**AUTH, "X-Request-ID": long_id})
    echoed = response.headers["x-request-id"]
    assert response.status_code == 200
    assert echoed == ("abc-123scriptquoted" + "x" * 64)[:64]
    plain = httpx.post(f"{base}/v1/rerank", json=BODY, headers={**AUTH, "X-Request-ID": "req-42"})
    assert plain.headers["x-request-id"] == "req-42"
    generated = httpx.post(f"{base}/v1/rerank", json=BODY, headers={**AUTH, "X-Request-ID": "<> {}"})
    assert len(generated.headers["x-request-id"]) == 32  # nothing usable left: the server makes one


def test_cors_preflight_is_answered_for_an_allowed_origin_without_a_key(base):
    preflight = httpx.options(
        f"{base}/v1/rerank",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    other = httpx.options(
        f"{base}/v1/rerank", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in other.headers
    real = httpx.post(f"{base}/v1/rerank", json=BODY, headers={**AUTH, "Origin": "https://app.example.com"})
    assert real.headers["access-control-allow-origin"] == "https://app.example.com"


def test_without_cors_origins_no_cors_header_is_sent():
    app = create_app(RecordingReranker(), ServerSettings(model_name="rec"))
    with threaded_server(app) as url:
        response = httpx.post(f"{url}/v1/rerank", json=BODY, headers={"Origin": "https://app.example.com"})
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_draining_answers_503_and_closes_the_connection():
    app = create_app(RecordingReranker(), ServerSettings(model_name="rec"))
    with threaded_server(app) as url:
        app.state.service.draining = True
        response = httpx.post(f"{url}/v1/rerank", json=BODY)
        assert response.status_code == 503 and response.headers["connection"] == "close"
        assert httpx.get(f"{url}/health").status_code == 200

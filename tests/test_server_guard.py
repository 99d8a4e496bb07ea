"""Service hardening, against a real `rankwise serve` process: authentication before the body is read, a
body cap enforced from Content-Length and while streaming, flat memory under oversized bodies, one bad
request never failing its batch neighbours, and non-ASCII bearer tokens."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from rankwise.server.batcher import MicroBatcher
from server_helpers import cli_server, threaded_server

KEY = "rk-guard-é-31"  # a non-ASCII key must work too
AUTH = {"Authorization": f"Bearer {KEY}".encode()}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    keys = tmp_path_factory.mktemp("guard") / "keys.txt"
    keys.write_text(KEY + "\n", encoding="utf-8")
    with cli_server("--model", "minilm-embed", "--api-key-file", str(keys), "--max-wait-ms", "50") as (base, process):
        yield base, process


def raw_request(base: str, head: str, body_chunks=(), read_timeout: float = 30.0) -> tuple[int, bytes]:
    """Send a request by hand (huge declared lengths, chunked bodies) and return the status and body."""
    address = urlparse(base)
    with socket.create_connection((address.hostname, address.port), timeout=read_timeout) as sock:
        sock.sendall(head.encode("latin-1") if isinstance(head, str) else head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking the rest: the point of the cap
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
                piece = sock.recv(65536)
                if not piece:
                    break
                data += piece
        except ConnectionResetError:
            pass
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_gigabyte_body_without_a_key_is_refused_from_the_headers(guarded):
    base, _ = guarded
    head = "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
    status, body = raw_request(base, head, read_timeout=10)
    assert status == 401
    assert json.loads(body)["error"].startswith("missing or invalid API key")


def test_malformed_json_without_a_key_is_401_not_400(guarded):
    base, _ = guarded
    response = httpx.post(f"{base}/v1/rerank", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_declared_oversized_body_is_413_with_a_key(guarded):
    base, _ = guarded
    head = (
        "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: 200000000\r\n\r\n"
    ).encode()
    status, body = raw_request(base, head)
    assert status == 413
    error = json.loads(body)
    assert "over the limit of" in error["error"] and error["request_id"]


def test_chunked_body_is_cut_off_at_the_cap(guarded):
    base, process = guarded
    head = (
        "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"a" * (1 << 20)
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # 200 MiB offered in 1 MiB chunks; the default cap is ~34 MB, so the server must stop reading early.
    status, body = raw_request(base, head, (chunk for _ in range(200)))
    assert status == 413
    assert "request body over the limit" in json.loads(body)["error"]


def test_memory_stays_flat_under_repeated_oversized_bodies(guarded):
    base, process = guarded
    head = (
        "POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {100 * 2**20}\r\n\r\n"
    ).encode()
    block = b" " * (1 << 20)
    raw_request(base, head, (block for _ in range(100)))  # warm-up
    before = rss_kib(process.pid)
    for _ in range(20):
        status, _ = raw_request(base, head, (block for _ in range(100)))
        assert status == 413
    after = rss_kib(process.pid)
    assert after - before < 16 * 1024, f"RSS grew from {before} to {after} KiB"
    assert httpx.get(f"{base}/health").status_code == 200


def test_a_lone_surrogate_fails_only_its_own_request(guarded):
    base, _ = guarded
    good = {"query": "how long do fleas live", "documents": ["Adult fleas live two to three months.", "Bread."]}
    bad = '{"query": "q", "documents": ["a \\ud800 b"]}'
    with concurrent.futures.ThreadPoolExecutor(7) as pool:
        futures = [pool.submit(httpx.post, f"{base}/v1/rerank", json=good, headers=AUTH, timeout=60) for _ in range(6)]
        futures.append(
            pool.submit(
                httpx.post,
                f"{base}/v1/rerank",
                content=bad.encode(),
                headers={**AUTH, "Content-Type": "application/json"},
                timeout=60,
            )
        )
        responses = [f.result() for f in futures]
    assert [r.status_code for r in responses[:6]] == [200] * 6
    assert all(r.json()["results"][0]["index"] == 0 for r in responses[:6])
    assert responses[6].status_code == 422
    assert responses[6].json()["error"].startswith("documents[0] cannot be encoded as UTF-8")


def test_non_ascii_bearer_tokens_are_compared_not_crashed_on(guarded):
    base, _ = guarded
    wrong = httpx.get(f"{base}/v1/models", headers={"Authorization": "Bearer sk-é".encode()})
    assert wrong.status_code == 401 and wrong.json()["error"].startswith("missing or invalid API key")
    right = httpx.get(f"{base}/v1/models", headers=AUTH)
    assert right.status_code == 200
    docs = httpx.get(f"{base}/openapi.json")
    assert docs.status_code == 401  # the key guards the docs too, as the serving guide says
    schema = httpx.get(f"{base}/openapi.json", headers=AUTH).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["security"] == [{"bearer": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []


def test_public_docs_open_the_docs_and_nothing_else():
    from rankwise.server import ServerSettings, create_app
    from test_server import RecordingReranker

    app = create_app(RecordingReranker(), ServerSettings(model_name="rec", api_keys=frozenset({KEY}), public_docs=True))
    with threaded_server(app) as base:
        for path in ("/docs", "/docs/swagger-ui-bundle.js", "/openapi.json"):
            assert httpx.get(f"{base}{path}").status_code == 200, path
        assert httpx.get(f"{base}/v1/models").status_code == 401
        assert httpx.post(f"{base}/v1/rerank", json={"query": "q", "documents": ["a"]}).status_code == 401


def test_batcher_retries_a_failed_batch_request_by_request():
    calls = []

    def score(items):
        calls.append(list(items))
        if "poison" in items:
            raise ValueError("cannot encode poison")
        return [float(len(i)) for i in items]

    async def scenario():
        batcher = MicroBatcher(score, max_batch=64, max_wait_ms=200)
        await batcher.start()
        try:
            return await asyncio.gather(
                batcher.score(["a", "bb"]), batcher.score(["poison"]), batcher.score(["ccc"]), return_exceptions=True
            )
        finally:
            await batcher.stop()

    good, poisoned, other = asyncio.run(scenario())
    assert good == [1.0, 2.0] and other == [3.0]
    assert isinstance(poisoned, ValueError)
    assert calls[0] == ["a", "bb", "poison", "ccc"]  # they did share one batch
    assert ["a", "bb"] in calls[1:] and ["ccc"] in calls[1:]


def test_stopping_the_batcher_stops_a_long_batch_whose_caller_still_waits():
    """The server's shutdown cancels the batcher while a long listwise batch runs and its request has not yet
    been dropped: the batch must stop at its next model call, not hold the executor's shutdown until it ends
    (this made the server hang after answering 503 during shutdown)."""
    from rankwise.cancellation import Cancelled, check_cancelled

    steps: list[int] = []
    outcome: list[str] = []

    def score(items):
        try:
            for step in range(600):  # a minute of model calls if nobody stops it
                check_cancelled()
                steps.append(step)
                time.sleep(0.1)
        except Cancelled:
            outcome.append("cancelled")
            raise
        outcome.append("finished")
        return [0.0 for _ in items]

    async def scenario():
        batcher = MicroBatcher(score, max_batch=64, max_wait_ms=1)
        await batcher.start()
        waiting = asyncio.ensure_future(batcher.score(["long"]))
        while not steps:
            await asyncio.sleep(0.01)
        await batcher.stop()  # the caller's future is still pending: only the stop can end the batch
        waiting.cancel()

    asyncio.run(scenario())
    assert outcome == ["cancelled"]
    assert len(steps) < 50


def test_an_unhandled_error_is_a_counted_json_500_with_the_request_id():
    from rankwise.rerankers.base import PointwiseReranker
    from rankwise.server import ServerSettings, create_app

    class Broken(PointwiseReranker):
        @property
        def method(self):  # read by /v1/models outside any error handling of the route
            raise RuntimeError("broken reranker")

        @classmethod
        def from_model(cls, location, **options):
            raise NotImplementedError

        def score_pairs(self, pairs):
            return [0.0 for _ in pairs]

    with threaded_server(create_app(Broken("broken"), ServerSettings(model_name="broken"))) as base:
        response = httpx.get(f"{base}/v1/models", headers={"X-Request-ID": "req-42"})
        assert response.status_code == 500
        assert response.json() == {
            "error": "internal error; quote the request id when reporting it",
            "type": "internal",
            "error_type": "internal",
            "request_id": "req-42",
        }
        metrics = httpx.get(f"{base}/metrics").text
        assert 'code="500"' in metrics and "/v1/models" in metrics


def test_the_routes_share_pure_limit_checks_that_name_their_own_field():
    """One set of checks for the Cohere/Jina and TEI shapes, each naming the field of its own shape."""
    from rankwise.server.limits import check_common, check_text
    from rankwise.server.state import ApiError, ServerSettings

    settings = ServerSettings(model_name="m", max_documents=3, max_query_chars=10)
    for field_name in ("documents", "texts"):
        with pytest.raises(ApiError) as refused:
            check_common(settings, "q", 4, field_name)
        assert (refused.value.status, refused.value.field_path) == (413, [field_name])
        with pytest.raises(ApiError, match=f"{field_name} is empty"):
            check_common(settings, "q", 0, field_name)
        with pytest.raises(ApiError, match=rf"{field_name}\[2\] is empty"):
            check_text("  ", field_name, 2)
    with pytest.raises(ApiError, match="query has 11 characters, over the limit of 10"):
        check_common(settings, "q" * 11, 1, "texts")


def _nested(depth: int) -> dict:
    value: dict = {"leaf": "x"}
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize(
    "route, body, error",
    [
        ("/rerank", '{"query": "q\\ud800", "texts": ["a"]}', "query cannot be encoded as UTF-8"),
        ("/rerank", '{"query": "q", "texts": ["a", "b \\udc00"]}', "texts[1] cannot be encoded as UTF-8"),
        (
            "/v1/rerank",
            '{"query": "q", "documents": ["a \\ud800"], "max_tokens_per_doc": 4}',
            "documents[0] cannot be encoded as UTF-8",
        ),
        (
            "/v2/rerank",
            '{"query": "q", "documents": [{"text": "a", "id": "d\\ud800"}], "return_documents": true}',
            "documents[0].id cannot be encoded as UTF-8",
        ),
        (
            "/v1/rerank",
            '{"query": "q", "documents": [{"text": "a", "metadata": {"k": ["\\ud800"]}}]}',
            "documents[0].metadata.k[0] cannot be encoded as UTF-8",
        ),
        (
            "/v1/rerank",
            '{"query": "q", "documents": [{"text": "a", "metadata": {"\\ud800": 1}}]}',
            'the key "\\ud800" holds a lone UTF-16 surrogate, which is not text',
        ),
        (
            "/v1/rerank",
            json.dumps({"query": "q", "documents": [{"text": "a", "metadata": _nested(40)}]}),
            "documents[0].metadata... is nested deeper than 32 levels",
        ),
    ],
)
def test_text_no_response_could_carry_is_a_422_at_the_edge_of_every_route(guarded, route, body, error):
    """Lone surrogates anywhere (query, texts, a document's id or metadata keys) and metadata nested past 32
    levels: a 422 naming the field before any tokenizing or scoring, never a 500 at serialization."""
    base, _ = guarded
    response = httpx.post(
        f"{base}{route}", content=body.encode(), headers={**AUTH, "Content-Type": "application/json"}, timeout=60
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith(error)
    assert httpx.get(f"{base}/health").status_code == 200


def test_a_list_over_the_document_limit_is_refused_from_its_length_before_its_items(guarded):
    """300,000 empty objects (0.9 MB, under the body cap) used to be validated one by one into a 60 MB 422 and
    a GB of RSS; the count decides first: a short 413, flat memory, and /health answers at once. (Since issue
    37 a body of over 100,000 JSON values is refused from its bytes; 60,000 stay under that, so the count
    check is what answers here.)"""
    base, process = guarded
    before = rss_kib(process.pid)
    for route, field_name in [("/v1/rerank", "documents"), ("/rerank", "texts")]:
        body = ('{"query": "q", "%s": [' % field_name + ",".join(["{}"] * 60_000) + "]}").encode()
        response = httpx.post(
            f"{base}{route}", content=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=60
        )
        assert response.status_code == 413, response.text[:300]
        assert response.json()["error"] == "60000 documents, over the limit of 1000 per request"
        assert len(response.content) < 2000
    assert rss_kib(process.pid) - before < 256 * 1024
    assert httpx.get(f"{base}/health", timeout=5).status_code == 200


def test_a_422_lists_the_first_few_problems_and_counts_the_rest(guarded):
    base, _ = guarded
    response = httpx.post(
        f"{base}/v1/rerank",
        headers=AUTH,
        timeout=60,
        json={"query": "q", "documents": [{"no_text": i} for i in range(50)]},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("documents.0") and body["error"].endswith(
        "(and 99 more problems)"
    )  # two union branches each
    assert len(body["detail"]) == 10

"""The hostile-client probe of issue 37, kept as a regression suite against a real `rankwise serve` process
over raw sockets: every request shape that once broke the service (memory, framing, HTTP-layer errors,
encodings, JSON values a reranking request never means) and the answer it must get now."""

from __future__ import annotations

import gzip
import json
import socket
import time
import zlib
from urllib.parse import urlparse

import httpx
import pytest

from server_helpers import cli_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("probe") / "server.log"
    with cli_server("--model", "minilm-embed", "--body-timeout", "3", log_path=log) as (base, process):
        yield base, process


def exchange(base: str, data: bytes, wait: float = 10.0, send_after: bytes = b"") -> tuple[bytes, bool]:
    """Send raw bytes, read until the server closes or `wait` passes (or, when nothing is sent after, until a
    whole response that keeps the connection open has arrived); the bytes received and whether the server
    closed the connection."""
    address = urlparse(base)
    with socket.create_connection((address.hostname, address.port), timeout=wait) as sock:
        sock.sendall(data)
        if send_after:
            time.sleep(0.3)
            try:
                sock.sendall(send_after)
            except OSError:
                pass
        received, closed = b"", False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            received += chunk
            if not send_after and _complete_and_kept_open(received):
                break
    return received, closed


def _complete_and_kept_open(raw: bytes) -> bool:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return False
    lines = head.lower().split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length:")), None)
    return length is not None and len(body) >= length and b"connection: close" not in lines


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every HTTP response in `raw` (status, lower-cased headers, body), for pipelining checks."""
    found = []
    while raw.startswith(b"HTTP/"):
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", len(rest)))
        found.append((int(lines[0].split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


def post(path: str, body: bytes, extra: str = "", content_type: str = "application/json") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1") + body


def json_error(raw: bytes, status: int, closed: bool | None = None, connection_closed: bool = True) -> str:
    (answer,) = responses(raw)[:1]
    got, headers, body = answer
    assert got == status, raw[:300]
    assert headers["content-type"].startswith("application/json"), headers
    if closed is not None and connection_closed:
        assert closed and headers.get("connection") == "close", (headers, closed)
    return json.loads(body)["error"]


REQUEST = {"query": "how long do fleas live", "documents": ["Adult fleas live two to three months.", "Bread."]}


# -- item 1: one request's values are bounded before anything is built ---------------------------------
def test_a_body_of_millions_of_metadata_values_is_refused_from_its_bytes(server):
    base, _ = server
    zeros = b",".join([b"0"] * 2_000_000)
    body = b'{"query": "q", "documents": [{"text": "a", "metadata": {"a": [' + zeros + b"]}}]}"
    raw, closed = exchange(base, post("/v1/rerank", body), wait=30)
    message = json_error(raw, 413)
    assert "2000007 JSON values, over the limit of 100000" in message


def test_metadata_values_per_document_are_bounded(server):
    base, _ = server
    document = {"text": "a", "metadata": {"tags": list(range(1500))}}
    answer = httpx.post(f"{base}/v1/rerank", json={"query": "q", "documents": [document]}, timeout=30)
    assert answer.status_code == 413
    assert (
        answer.json()["error"] == "documents[0] holds over 1000 values (ids, metadata and other fields of one document)"
    )


# -- item 6: request smuggling framing --------------------------------------------------------------------
def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(server):
    base, _ = server
    body = json.dumps(REQUEST).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    smuggled = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    head = (
        f"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        "\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    raw, closed = exchange(base, head + chunked + smuggled)
    assert len(responses(raw)) == 1, "the smuggled request must never be answered"
    assert json_error(raw, 400, closed) == "Content-Length and Transfer-Encoding together: send one of them"


# -- item 7: HTTP-layer errors in the JSON shape, and the connection closed when framing is in doubt ------
@pytest.mark.parametrize(
    "request_bytes, status, reason",
    [
        (b"GARBAGE\r\n\r\n", 400, "illegal request line"),
        (b"GET /health HTTP/1.1\r\n\r\n", 400, "Missing mandatory Host: header"),
        (b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Found multiple Host: headers"),
        (b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", 400, "bad Content-Length"),
        (
            b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            400,
            "conflicting Content-Length headers",
        ),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400, "illegal header line"),
        (
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n",
            431,
            "the request line and headers are over the limit of 16384 bytes",
        ),
    ],
)
def test_requests_h11_cannot_parse_get_a_json_error_and_a_closed_connection(server, request_bytes, status, reason):
    base, _ = server
    raw, closed = exchange(base, request_bytes)
    message = json_error(raw, status, closed)
    assert message.startswith("invalid HTTP request: ") and reason in message


def test_http_versions_other_than_1_x_are_refused(server):
    base, _ = server
    raw, closed = exchange(base, b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n")
    assert json_error(raw, 505, closed) == "HTTP/9.9 is not supported: send HTTP/1.1"


@pytest.fixture(scope="module")
def small_cap():
    with cli_server("--model", "minilm-embed", "--max-body-bytes", "100000") as (base, _):
        yield base


def test_a_chunked_body_over_the_cap_is_413_and_the_rest_never_parsed_as_a_request(small_cap):
    head = (
        b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"20000\r\n" + b" " * 0x20000 + b"\r\n"
    raw, closed = exchange(small_cap, head + chunk, send_after=b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(responses(raw)) == 1
    assert json_error(raw, 413, closed) == "request body over the limit of 100000 bytes"


def test_a_body_past_its_deadline_is_408_and_the_connection_closed(server):
    base, _ = server
    head = b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
    raw, closed = exchange(base, head, wait=10)
    assert json_error(raw, 408, closed) == "request body not received within 3 s"


def test_two_authorization_headers_are_ambiguous(server):
    base, _ = server
    raw, closed = exchange(
        base,
        post(
            "/v1/rerank", json.dumps(REQUEST).encode(), "Authorization: Bearer wrong\r\nAuthorization: Bearer right\r\n"
        ),
    )
    assert json_error(raw, 400, closed) == "more than one Authorization header: send one"


@pytest.mark.parametrize("encode, encoding", [(gzip.compress, "gzip"), (zlib.compress, "deflate")])
def test_compressed_bodies_are_decoded(server, encode, encoding):
    base, _ = server
    body = encode(json.dumps(REQUEST).encode())
    answer = httpx.post(
        f"{base}/v1/rerank", content=body, headers={"Content-Type": "application/json", "Content-Encoding": encoding}
    )
    assert answer.status_code == 200 and [r["index"] for r in answer.json()["results"]] == [0, 1]


@pytest.mark.parametrize(
    "encoding, status, message",
    [
        ("gzip", 400, "the body is not valid gzip data"),
        ("br", 415, "Content-Encoding 'br' is not supported"),
    ],
)
def test_a_body_not_in_its_declared_encoding_is_refused(server, encoding, status, message):
    base, _ = server
    raw, _ = exchange(base, post("/v1/rerank", json.dumps(REQUEST).encode(), f"Content-Encoding: {encoding}\r\n"))
    assert json_error(raw, status).startswith(message)


def test_a_gzip_bomb_is_refused_at_the_body_cap(small_cap):
    bomb = gzip.compress(b'{"query": "q", "documents": ["' + b"a" * 5_000_000 + b'"]}')
    answer = httpx.post(
        f"{small_cap}/v1/rerank", content=bomb, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "the body decompresses to over the limit of 100000 bytes"


@pytest.mark.parametrize(
    "literal, message",
    [
        (b"NaN", "NaN is not a JSON number"),
        (b"Infinity", "Infinity is not a JSON number"),
        (b"-Infinity", "-Infinity is not a JSON number"),
        (b"1e400", "the number 1e400 is too large for a double"),
    ],
)
def test_non_finite_numbers_are_refused_not_echoed_as_null(server, literal, message):
    base, _ = server
    body = b'{"query": "q", "documents": [{"text": "a", "score": ' + literal + b"}]}"
    raw, _ = exchange(base, post("/v1/rerank", body))
    assert json_error(raw, 422).startswith(message)


@pytest.mark.parametrize(
    "query",
    ["\u200b", "\u200c\u200d", "\ufeff", "\u2060", "\x00", "\u0301\u0300", "\u200f", "\u00ad", " \u200b \u2060 "],
)
def test_invisible_queries_are_refused(server, query):
    base, _ = server
    answer = httpx.post(f"{base}/v1/rerank", json={"query": query, "documents": ["a flea"]})
    assert answer.status_code == 422
    assert (
        answer.json()["error"].startswith("query has no visible characters")
        or answer.json()["error"] == "query is empty"
    )


def test_an_invisible_document_is_refused_naming_it(server):
    base, _ = server
    answer = httpx.post(f"{base}/rerank", json={"query": "fleas", "texts": ["a flea", "\u200b\u200b"]})
    assert answer.status_code == 422 and answer.json()["error"].startswith("texts[1] has no visible characters")


# -- item 8 ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, headers, status, message",
    [
        (
            '{"query": "q", "documents": ["a"]}'.encode("utf-16"),
            {},
            400,
            "the body is not UTF-8: invalid byte at offset 0",
        ),
        (
            '{"query": "q", "documents": ["a"]}'.encode("utf-32"),
            {},
            400,
            "the body is not UTF-8: invalid byte at offset 0",
        ),
        (b'{"query": "caf\xe9", "documents": ["a"]}', {}, 400, "the body is not UTF-8: invalid byte at offset 14"),
        (
            b'{"query": "q", "documents": ["a"]}',
            {"Content-Type": "application/json; charset=latin-1"},
            415,
            "the body must be UTF-8 JSON, not charset 'latin-1'",
        ),
        (
            b'{"query": "q", "query": "r", "documents": ["a"]}',
            {},
            400,
            'duplicate key "query" in a JSON object: send each key once',
        ),
        (b"[" * 1500 + b"]" * 1500, {}, 413, "the body is nested 1500 levels deep, over the limit of 64"),
        (
            b'{"query": "q", "documents": ["a"], "top_n": ' + b"9" * 5000 + b"}",
            {},
            422,
            "an integer of 5000 digits, over the limit of 4300",
        ),
        (
            b'{"query": "q", "documents": [{"text": "a", "\\ud800": 1}]}',
            {},
            422,
            'the key "\\ud800" holds a lone UTF-16 surrogate, which is not text',
        ),
    ],
)
def test_each_body_problem_has_its_own_message(server, body, headers, status, message):
    base, _ = server
    answer = httpx.post(f"{base}/v1/rerank", content=body, headers={"Content-Type": "application/json", **headers})
    assert (answer.status_code, answer.json()["error"]) == (status, message)


def test_the_api_page_is_served_without_a_cdn(server):
    base, _ = server
    page = httpx.get(f"{base}/docs").text
    assert "cdn" not in page.lower() and "/docs/swagger-ui-bundle.js" in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"):
        answer = httpx.get(f"{base}/docs/{asset}")
        assert answer.status_code == 200 and len(answer.content) > 500, asset
    assert httpx.get(f"{base}/docs/nothing.js").status_code == 404


def test_json_is_parsed_on_a_worker_thread_not_the_event_loop(monkeypatch):
    """Issue 37 item 8: one 33 MB body parsed on the loop stalled /health for 0.59 s."""
    import asyncio
    import threading

    from rankwise.server import body as body_module

    threads = []
    real_parse = body_module.parse

    def recording_parse(raw, limits):
        threads.append(threading.current_thread())
        return real_parse(raw, limits)

    monkeypatch.setattr(body_module, "parse", recording_parse)
    payload = json.dumps(REQUEST).encode()

    async def read():
        async def receive():
            return {"type": "http.request", "body": payload, "more_body": False}

        request = body_module.BoundedJsonRequest(
            {"type": "http", "method": "POST", "headers": [(b"content-type", b"application/json")]}, receive
        )
        request.limits = body_module.JsonLimits(max_bytes=10_000)
        return await request.json(), threading.current_thread()

    parsed, loop_thread = asyncio.run(read())
    assert parsed == REQUEST and threads and threads[0] is not loop_thread


def test_retry_after_follows_the_queued_work():
    from rankwise.server.batcher import MicroBatcher

    batcher = MicroBatcher(lambda units: units)
    assert batcher.seconds_to_drain() == 1  # nothing measured, nothing queued
    batcher._measured(pairs=100, seconds=1.0)  # 100 pairs/s
    batcher.queued = 2_000
    assert batcher.seconds_to_drain() == 20
    batcher.queued = 100_000
    assert batcher.seconds_to_drain() == 60  # at most a minute
    batcher.queued = 10
    assert batcher.seconds_to_drain(at_least=2) == 2

"""Issue 37 items 3 and 5: a request's deadline covers all of its work, and when it passes, the client leaves
or the server stops, the model stops within one unit of work. Measured as the serving process's CPU time:
after a 504 or a disconnect it falls to idle, and the next small request is answered. Real SmolLM2-135M."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

import httpx
import pytest

from rankwise import Reranker
from rankwise.server import ServerSettings, create_app
from server_helpers import cli_server, threaded_server

QUERY = "how long do fleas live"
MANY = [
    f"Passage {i}: fleas, their eggs and larvae, and how long each stage of the flea life cycle lasts "
    f"on a dog or a cat ({i})."
    for i in range(400)
]
SMALL = {"query": QUERY, "documents": ["Adult fleas live two to three months.", "Bread needs flour."]}
METHODS = {
    "first": {"top_k": 400},
    "listwise-generate": {"top_k": 400},
    "reasoning-pointwise": {"reasoning_budget": 32},
    "llm-pointwise": {},
}


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def idle_after(seconds: float, window: float = 2.0) -> float:
    """CPU-seconds this process spends in `window` seconds, starting `seconds` from now."""
    time.sleep(seconds)
    before = cpu_seconds()
    time.sleep(window)
    return cpu_seconds() - before


# FIRST runs by default (the cancellation is the backends', whatever the method; each costs 13 s); all four
# with -m slow.
DEFAULT_RUN = {"first"}


@pytest.fixture(
    scope="module",
    params=[m if m in DEFAULT_RUN else pytest.param(m, marks=pytest.mark.slow) for m in sorted(METHODS)],
)
def served(request):
    reranker = Reranker.load("smollm2-135m", method=request.param, **METHODS[request.param])
    with threaded_server(create_app(reranker, ServerSettings(model_name=request.param, request_timeout=3))) as base:
        yield base


def test_after_a_504_the_model_stops_and_the_next_request_is_answered(served):
    answer = httpx.post(f"{served}/v1/rerank", json={"query": QUERY, "documents": MANY}, timeout=120)
    assert answer.status_code == 504, answer.text[:300]
    assert answer.json()["error"] == "not answered within the request timeout of 3 s"
    assert idle_after(2.0) < 0.5, "the model went on working after the deadline"
    assert httpx.post(f"{served}/v1/rerank", json=SMALL, timeout=60).status_code in (200, 504)


def test_after_a_disconnect_the_model_stops(served):
    host, port = served.removeprefix("http://").split(":")
    body = json.dumps({"query": QUERY, "documents": MANY}).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(1.0)
    assert idle_after(2.0) < 0.5, "the model went on working for a client that left"


def test_a_long_request_during_shutdown_gets_a_json_503_not_a_plain_500(tmp_path):
    """SIGTERM during a FIRST request over 400 passages: after the drain (1 s) and the grace (2 s) it is
    answered 503 in the service's JSON shape and the process exits."""
    log = tmp_path / "server.log"
    with cli_server(
        "--model",
        "smollm2-135m",
        "--method",
        "first",
        "-O",
        "top_k=400",
        "--drain-seconds",
        "1",
        "--shutdown-grace",
        "2",
        log_path=log,
    ) as (base, process):
        answers: list[httpx.Response] = []
        client = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{base}/v1/rerank", json={"query": QUERY, "documents": MANY}, timeout=120)
            )
        )
        client.start()
        time.sleep(2.0)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        client.join(timeout=60)
        waited = time.monotonic() - signalled
        try:
            process.wait(timeout=60)
        except Exception:
            pytest.fail(f"the server did not exit after SIGTERM; answers {answers}; log:\n{log.read_text()[-3000:]}")
    (answer,) = answers
    assert answer.status_code == 503, (answer.status_code, answer.text[:300], log.read_text()[-2000:])
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == "the service stopped before this request was answered; retry it"
    assert waited < 30, "the answer should come at the end of the grace period, not when uvicorn gives up"

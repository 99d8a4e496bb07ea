"""The openai backend against a real OpenAI-compatible server started here: llama-cpp-python's server on
the SmolLM2-135M GGUF, compared with the same GGUF in process (the llama.cpp backend)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python[server] is not installed")

from rankwise import Reranker
from rankwise.errors import UnsupportedMethodError
from rankwise.types import Candidate, Query, Request
from server_helpers import free_port

PASSAGES = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs flour, water and salt.",
    "Without a host, a flea survives a few days to two weeks.",
    "Guitar strings are tuned with pegs.",
]


@pytest.fixture(scope="module")
def server():
    from rankwise.models.resolve import resolve_gguf

    gguf = resolve_gguf("smollm2-135m").path
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            gguf,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
            "--model_alias",
            "smollm2-135m",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "llama_cpp.server did not start"
        time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(timeout=30)


def _request() -> Request:
    return Request(Query("q", "how long do fleas live"), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])


def test_yes_no_scores_through_the_server_equal_the_in_process_ones(server):
    remote = Reranker.load(
        "smollm2-135m", method="llm-pointwise", backend="openai", base_url=server, top_logprobs=49152
    )
    local = Reranker.load("smollm2-135m", method="llm-pointwise", backend="llama.cpp")
    got = {r.docid: r.score for r in remote.rerank_batch([_request()])[0].results}
    expected = {r.docid: r.score for r in local.rerank_batch([_request()])[0].results}
    assert got == pytest.approx(expected, abs=0.05)


def test_listwise_generation_through_the_server_gives_a_full_permutation(server):
    remote = Reranker.load(
        "smollm2-135m", method="listwise-generate", backend="openai", base_url=server, window=4, stride=2
    )
    ranking = remote.rerank_batch([_request()])[0]
    assert sorted(ranking.docids) == ["0", "1", "2", "3"]


def test_a_token_outside_the_returned_top_logprobs_is_refused_by_name(server):
    remote = Reranker.load("smollm2-135m", method="llm-pointwise", backend="openai", base_url=server, top_logprobs=1)
    with pytest.raises(UnsupportedMethodError, match="top 1 tokens only, and .* was not among them"):
        remote.rerank_batch([_request()])


def test_an_unreachable_server_fails_after_the_retries_with_its_address():
    from rankwise.backends.openai_compatible import ServerError

    reranker = Reranker.load(
        "smollm2-135m",
        method="listwise-generate",
        backend="openai",
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        max_retries=1,
        window=4,
        stride=2,
    )
    with pytest.raises(ServerError, match=r"/completions failed after 2 attempts \(ConnectError"):
        reranker.rerank_batch([_request()])


def test_the_backend_needs_an_address(monkeypatch):
    from rankwise import OptionError

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(OptionError, match="needs the server's address"):
        Reranker.load("smollm2-135m", method="listwise-generate", backend="openai")


def test_first_through_the_server_reads_the_same_identifier_log_probs_as_in_process(server):
    """SmolLM2 splits "[A]", so FIRST needs the bridged step: two requests per window over HTTP."""
    remote = Reranker.load(
        "smollm2-135m", method="first", backend="openai", base_url=server, top_logprobs=49152, window=4, stride=2
    )
    local = Reranker.load("smollm2-135m", method="first", backend="llama.cpp", window=4, stride=2)
    got, expected = remote.rerank_batch([_request()])[0], local.rerank_batch([_request()])[0]
    assert got.docids == expected.docids
    for remote_window, local_window in zip(got.trace["windows"], expected.trace["windows"]):
        assert remote_window["scores"] == pytest.approx(local_window["scores"], abs=0.05)


def test_top_logprobs_through_the_server_equal_the_in_process_ones(server):
    """The dictionary TFRank's reading works on: the server's own `top_logprobs`, and the in-process top k."""
    options = {"method": "graded-pointwise", "answer": "tfrank", "max_grade": 4}
    remote = Reranker.load("smollm2-135m", backend="openai", base_url=server, **options)
    local = Reranker.load("smollm2-135m", backend="llama.cpp", **options)
    prompt = local.lm.encode(f"Query: how long do fleas live\nPassage: {PASSAGES[0]}\nRelevance from 0 to 4. Score: ")
    (got,), (expected,) = remote.lm.next_token_top_logprobs([prompt], 5), local.lm.next_token_top_logprobs([prompt], 5)
    assert list(got) == list(expected) and len(got) == 5
    assert list(got.values()) == pytest.approx(list(expected.values()), abs=0.05)

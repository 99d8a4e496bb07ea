"""The MCP server (issue 41 part 1, carried over from issue 25): the `rerank` tool and the `models` resource,
driven by the official SDK's own client, in-process and over stdio against `rankwise mcp`; refusals carry the
HTTP service's messages."""

from __future__ import annotations

import asyncio
import json
import sys

import httpx
import pytest

pytest.importorskip("mcp", reason="the mcp extra (pip install 'rankwise[mcp]')")

from mcp import Client, StdioServerParameters
from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

from rankwise import Reranker
from rankwise.server import ServerSettings, create_app
from rankwise.server.mcp import MODELS_URI, create_mcp_server
from server_helpers import threaded_server


def run(coroutine):
    return asyncio.run(coroutine)


async def call(server, arguments: dict) -> tuple[bool, object]:
    async with Client(server) as client:
        result = await client.call_tool("rerank", arguments)
        text = result.content[0].text if result.content else None
        return result.is_error, result.structured_content if not result.is_error else tool_message(text)


def tool_message(text: str) -> str:
    """The SDK writes a tool error as 'Error executing tool NAME: MESSAGE'; the message is the service's."""
    prefix = "Error executing tool rerank: "
    assert text.startswith(prefix), text
    return text.removeprefix(prefix)


@pytest.fixture(scope="module")
def served(minilm):
    return create_mcp_server(minilm, "minilm-embed")


def test_the_rerank_tool_ranks_as_the_python_api(served, minilm):
    expected = minilm.rerank(FLEA_QUERY, FLEA_PASSAGES)
    failed, ranking = run(call(served, {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "top_n": 3}))
    assert not failed
    assert [r["index"] for r in ranking["results"]] == [int(d) for d in expected.docids[:3]]
    assert [r["score"] for r in ranking["results"]] == pytest.approx([r.score for r in expected.results[:3]], abs=1e-6)
    assert ranking["score_kind"] == "cosine" and ranking["method"] == "embedding"
    assert ranking["results"][0]["document"]["text"] == FLEA_PASSAGES[ranking["results"][0]["index"]]


def test_documents_as_objects_keep_their_ids_and_metadata(served):
    documents = [{"text": p, "id": f"d{i}", "metadata": {"n": i}} for i, p in enumerate(FLEA_PASSAGES[:3])]
    failed, ranking = run(call(served, {"query": FLEA_QUERY, "documents": documents}))
    assert not failed
    for result in ranking["results"]:
        assert result["document"] == documents[result["index"]]


def test_refusals_carry_the_http_services_messages(served, minilm):
    refusals = [
        ({"query": FLEA_QUERY, "documents": []}, "documents is empty"),
        ({"query": "\u200b", "documents": ["a"]}, "query has no visible characters"),
        ({"query": FLEA_QUERY, "documents": ["a", " "]}, "documents[1] is empty"),
        ({"query": FLEA_QUERY, "documents": ["a"], "min_probability": 0.5}, "min_probability needs calibrated scores"),
    ]
    with threaded_server(create_app(minilm, ServerSettings(model_name="minilm-embed"))) as base:
        for arguments, message in refusals:
            failed, text = run(call(served, arguments))
            assert failed and text.startswith(message), (arguments, text)
            http = dict(arguments)
            if "min_probability" in http:
                http["min_relevance"] = http.pop("min_probability")
                message = message.replace("min_probability", "min_relevance")
            answer = httpx.post(f"{base}/v1/rerank", json=http)
            assert answer.status_code == 422 and answer.json()["error"].startswith(message)


def test_a_calibrated_model_cuts_by_probability_and_coverage():
    calibrated = Reranker.load("minilm-embed", calibration=True)
    server = create_mcp_server(calibrated, "minilm-embed")
    failed, ranking = run(call(server, {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "min_probability": 0.3}))
    assert not failed and ranking["score_kind"] == "calibrated-probability"
    expected = calibrated.rerank(FLEA_QUERY, FLEA_PASSAGES, min_probability=0.3)
    assert [str(r["index"]) for r in ranking["results"]] == expected.docids
    assert all(r["relevance_score"] >= 0.3 for r in ranking["results"])
    failed, ranking = run(call(server, {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "coverage": 0.9}))
    assert not failed and len(ranking["results"]) == len(
        calibrated.rerank(FLEA_QUERY, FLEA_PASSAGES, top_n="adaptive", coverage=0.9)
    )


def test_the_models_resource_names_the_model_method_and_score_kind(served):
    async def read():
        async with Client(served) as client:
            listed = await client.list_resources()
            contents = await client.read_resource(MODELS_URI)
            return [str(r.uri) for r in listed.resources], json.loads(contents.contents[0].text)

    uris, models = run(read())
    assert MODELS_URI in uris
    assert models == {
        "data": [{"id": "minilm-embed", "method": "embedding", "score_kind": "cosine", "calibrated": False}]
    }


def test_rankwise_mcp_over_stdio():
    parameters = StdioServerParameters(command=sys.executable, args=["-m", "rankwise.cli", "mcp", "-m", "minilm-embed"])

    async def session():
        async with Client(parameters, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            result = await client.call_tool("rerank", {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "top_n": 2})
            refused = await client.call_tool("rerank", {"query": "", "documents": ["a"]})
            return [t.name for t in tools.tools], result, refused

    names, result, refused = run(session())
    assert names == ["rerank"]
    assert not result.is_error and len(result.structured_content["results"]) == 2
    assert refused.is_error and tool_message(refused.content[0].text) == "query is empty"


def test_rankwise_mcp_over_streamable_http():
    import socket
    import subprocess
    import time

    from server_helpers import free_port

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rankwise.cli",
            "mcp",
            "-m",
            "minilm-embed",
            "--transport",
            "streamable-http",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)

        async def session():
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return await client.call_tool("rerank", {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "top_n": 1})

        result = run(session())
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not result.is_error and len(result.structured_content["results"]) == 1


def test_the_rerank_tool_takes_feedback_as_the_http_service_does(minilm):
    """`feedback` (indices of documents the user marked relevant) reaches a method that uses it as the Python
    API's `feedback=` does; a method without feedback and an index past the documents are the service's 422s."""
    prf = Reranker.load("minilm-embed", method="embedding-prf")
    marked = [2]
    expected = prf.rerank(FLEA_QUERY, FLEA_PASSAGES, feedback=[str(i) for i in marked])
    failed, ranking = run(
        call(
            create_mcp_server(prf, "minilm-embed"),
            {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "feedback": marked},
        )
    )
    assert not failed
    assert [r["index"] for r in ranking["results"]] == [int(d) for d in expected.docids]
    assert [r["score"] for r in ranking["results"]] == pytest.approx([r.score for r in expected.results], abs=1e-6)
    pseudo = prf.rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert [r.score for r in pseudo.results] != pytest.approx([r.score for r in expected.results], abs=1e-4)
    failed, text = run(
        call(create_mcp_server(prf, "minilm-embed"), {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "feedback": [9]})
    )
    assert failed and text == f"feedback index 9 is past the {len(FLEA_PASSAGES)} documents"
    failed, text = run(
        call(
            create_mcp_server(minilm, "minilm-embed"),
            {"query": FLEA_QUERY, "documents": FLEA_PASSAGES, "feedback": [1]},
        )
    )
    assert failed and text == minilm.no_feedback()


def test_the_rerank_tool_takes_a_latency_budget_as_the_http_service_does(minilm, tmp_path):
    """A cascade escalating doubtful queries keeps to `latency_budget_ms` (0: its costlier stage is skipped,
    the first stage's order stands); a model that cannot trade quality for time refuses it, as over HTTP."""
    import tiny_models

    folder, _, _ = tiny_models.cross_encoder(tmp_path / "ce", 1)
    cascade = Reranker.load(f"embedding:minilm-embed{{calibration=true}}@4 >> cross-encoder:{folder}@4")
    server = create_mcp_server(cascade, "cascade")
    arguments = {"query": FLEA_QUERY, "documents": FLEA_PASSAGES}
    first = [int(d) for d in Reranker.load("minilm-embed").rerank(FLEA_QUERY, FLEA_PASSAGES).docids]
    failed, skipped = run(call(server, {**arguments, "latency_budget_ms": 0}))
    assert not failed and [r["index"] for r in skipped["results"]] == first
    failed, escalated = run(call(server, {**arguments, "latency_budget_ms": 600000}))
    assert not failed and [r["index"] for r in escalated["results"]] != first
    failed, text = run(call(create_mcp_server(minilm, "minilm-embed"), {**arguments, "latency_budget_ms": 100}))
    assert failed and "cannot trade quality for time, so latency_budget_ms does not apply" in text

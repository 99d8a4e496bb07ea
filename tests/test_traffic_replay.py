"""Traffic for replay: `serve --log-requests DIR` writes every scored request (never keys or headers), and
`rankwise replay DIR -m SPEC` reranks it with another reranker, comparing with what was served."""

import json

import httpx
import pytest
from typer.testing import CliRunner

from rankwise import Reranker
from rankwise.cli.main import app
from rankwise.io import read_candidates
from rankwise.io.traffic import read_traffic
from rankwise.server import ServerSettings, create_app
from server_helpers import cli_server, threaded_server

QUERY = "how long do fleas live"
DOCUMENTS = [
    "Sourdough starters need daily feeding.",
    "Adult fleas live for two to three months on a host.",
    "Flea eggs hatch in one to ten days.",
]
KEY = "secret-key-never-logged"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    folder = tmp_path_factory.mktemp("traffic")
    keys = folder.parent / "keys.txt"
    keys.write_text(KEY + "\n")
    auth = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "abc"}
    with cli_server("-m", "minilm-embed", "--log-requests", str(folder), "--api-key-file", str(keys)) as (base, _):
        assert (
            httpx.post(f"{base}/v2/rerank", json={"query": QUERY, "documents": DOCUMENTS}, headers=auth).status_code
            == 200
        )
        tei = httpx.post(f"{base}/rerank", json={"query": "bread", "texts": DOCUMENTS[:2]}, headers=auth)
        assert tei.status_code == 200
        ids = [{"text": t, "id": f"doc-{i}"} for i, t in enumerate(DOCUMENTS)]
        assert (
            httpx.post(f"{base}/v1/rerank", json={"query": "flea eggs", "documents": ids}, headers=auth).status_code
            == 200
        )
        refused = httpx.post(f"{base}/v2/rerank", json={"query": QUERY, "documents": []}, headers=auth)
        assert refused.status_code == 422  # never scored: never logged
    return folder


def test_every_scored_request_is_on_disk_without_keys(logged):
    text = "".join(p.read_text() for p in logged.glob("traffic-*.jsonl"))
    assert KEY not in text and "Bearer" not in text and "abc" not in text
    records = read_traffic(logged)
    assert [r["route"] for r in records] == ["/v2/rerank", "/rerank", "/v1/rerank"]
    first = records[0]
    served = Reranker.load("minilm-embed").rerank(QUERY, DOCUMENTS)
    assert first["query"] == QUERY and first["documents"] == DOCUMENTS and first["model"] == "minilm-embed"
    assert [str(i) for i in first["order"]] == served.docids and first["seconds"] > 0
    assert records[2]["ids"] == ["doc-0", "doc-1", "doc-2"]
    # a line being written (or torn by a kill) is left out, and the file is not touched
    path = sorted(logged.glob("traffic-*.jsonl"))[-1]
    size = path.stat().st_size
    with open(path, "ab") as f:
        f.write(b'{"query": "half a li')
    assert len(read_traffic(logged)) == 3 and path.stat().st_size == size + 20
    path.write_bytes(path.read_bytes()[:size])


def test_replay_compares_another_reranker_with_what_was_served(logged, tmp_path):
    runner = CliRunner()
    summary = tmp_path / "same.json"
    same = runner.invoke(app, ["replay", str(logged), "-m", "minilm-embed", "--k", "2", "-o", str(summary)])
    assert same.exit_code == 0, same.output
    measured = json.loads(summary.read_text())["summary"]
    assert measured["requests"] == 3 and measured["overlap@2"] == 1.0 and measured["kendall_tau"] == 1.0
    assert measured["served_p50_s"] > 0 and measured["replay_p50_s"] > 0
    candidates = tmp_path / "logged.json"
    other = runner.invoke(
        app, ["replay", str(logged), "-m", "maxsim:minilm-embed", "--export-candidates", str(candidates)]
    )
    assert other.exit_code == 0, other.output
    requests = read_candidates(candidates)
    assert [r.query.text for r in requests] == [QUERY, "bread", "flea eggs"]
    assert [c.docid for c in requests[2].candidates][0] in {"doc-0", "doc-1", "doc-2"}
    empty = runner.invoke(app, ["replay", str(tmp_path), "-m", "minilm-embed"])
    assert empty.exit_code == 2 and "no traffic log here" in empty.output


def test_nothing_is_logged_at_a_zero_sample(tmp_path):
    settings = ServerSettings(model_name="m", log_requests=tmp_path / "t", log_sample=0.0)
    with threaded_server(create_app(Reranker.load("minilm-embed"), settings)) as base:
        assert httpx.post(f"{base}/rerank", json={"query": QUERY, "texts": DOCUMENTS}).status_code == 200
    assert not list((tmp_path / "t").glob("*.jsonl"))

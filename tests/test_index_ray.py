"""Forward indexes encoded on Ray (issue 42 item 5): chunks encoded by actors, written once by the driver in
order, resumable after a killed driver, and the same bytes as a one-process build at the same thread count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tests.conftest import ROOT, data_path
from tests.test_batch import _folder_bytes, _ray_orphans

pytestmark = pytest.mark.slow  # a local Ray instance, two actors and killed drivers (about a minute)
pytest.importorskip("ray", reason="the ray extra is not installed")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """DL 2019's first 600 BM25 candidates as a corpus (JSONL with id and text)."""
    entries = json.loads(data_path("dl19", "bm25_top100.json").read_text())
    seen, lines = set(), []
    for entry in entries:
        for hit in entry["hits"]:
            if hit["docid"] not in seen and len(seen) < 600:
                seen.add(hit["docid"])
                lines.append(json.dumps({"id": hit["docid"], "text": hit["content"]}))
    path = tmp_path_factory.mktemp("ray-index") / "corpus.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _command(corpus, out, *extra):
    return [
        sys.executable,
        "-m",
        "rankwise.cli",
        "index",
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--encode",
        "minilm-embed",
        "--token-vectors",
        "--dtype",
        "int8",
        "--chunk-size",
        "64",
        "--threads",
        "1",
        *extra,
    ]


def test_a_ray_build_resumes_a_killed_driver_to_the_bytes_of_a_local_build(corpus, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    local = subprocess.run(_command(corpus, tmp_path / "local"), env=env, capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-2000:]
    ray_command = _command(corpus, tmp_path / "ray", "--engine", "ray", "--workers", "2")
    before = _ray_orphans()
    try:
        process = subprocess.Popen(ray_command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        manifest = tmp_path / "ray" / "forward" / "manifest.json"
        deadline = time.time() + 300
        while time.time() < deadline:
            if manifest.is_file() and len(json.loads(manifest.read_text() or "{}").get("chunks", [])) >= 3:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        finished = len(json.loads(manifest.read_text())["chunks"])
        assert 3 <= finished < 10, "the driver was killed mid-build"  # 600 passages: 10 chunks
        resumed = subprocess.run(ray_command + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    finally:
        for pid in _ray_orphans() - before:  # a killed driver leaves Ray's agents behind
            os.kill(pid, signal.SIGKILL)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert _folder_bytes(tmp_path / "ray" / "forward") == _folder_bytes(tmp_path / "local" / "forward")

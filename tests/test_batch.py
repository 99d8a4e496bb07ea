"""Batch jobs: sharded output that a kill -9 at any point resumes to the same bytes, bad queries set aside
with their reason, and `rankwise eval` reading the folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from tests.conftest import ROOT, data_path

from rankwise import InputError
from rankwise.pipelines.batch import run_batch, run_files
from rankwise.rerankers.compose.spec import RerankerSpec


@pytest.fixture(scope="module")
def candidates(tmp_path_factory):
    """12 dl21 queries (BM25 top 8) as JSONL, with two bad entries: an empty query and a duplicate docid."""
    entries = json.loads(data_path("dl21", "bm25_top100.json").read_text())[:12]
    for entry in entries:
        entry["hits"] = entry["hits"][:8]
    entries[4] = {**entries[4], "query": "  "}
    entries[9] = {**entries[9], "hits": entries[9]["hits"][:3] + entries[9]["hits"][:1]}
    path = tmp_path_factory.mktemp("batch") / "candidates.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path


def _folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _command(candidates, out):
    return [
        sys.executable,
        "-m",
        "rankwise.cli",
        "rerank",
        "-m",
        "minilm-embed",
        "--input",
        str(candidates),
        "--output-dir",
        str(out),
        "--shard-queries",
        "2",
        "--queries-per-batch",
        "1",
    ]


def test_a_killed_job_resumes_to_the_same_output(minilm, candidates, tmp_path):
    whole = tmp_path / "whole"
    # the spec the CLI records (only the options given; none here), so that the manifests match too
    spec = RerankerSpec("minilm-embed", None, {})
    summary = run_batch(spec, candidates, whole, shard_queries=2, queries_per_batch=1)
    assert (summary.queries, summary.errors, summary.shards) == (10, 2, 6)
    assert sorted(p.name for p in whole.glob("run-*.trec")) == [f"run-{i:05d}.trec" for i in range(6)]
    errors = [json.loads(line) for p in sorted(whole.glob("errors-*.jsonl")) for line in p.read_text().splitlines()]
    assert [e["entry"] for e in errors] == [4, 9]
    assert "empty query" in errors[0]["error"] and "duplicate docid" in errors[1]["error"]

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for stop_after in (1,):  # kill -9 after the first shard, then again in a later one
        killed = tmp_path / f"killed{stop_after}"
        for target in (stop_after, 4):
            _kill_when(_command(candidates, killed), env, killed, target)
        resumed = subprocess.run(
            _command(candidates, killed), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert resumed.returncode == 3, resumed.stderr[-2000:]  # finished, but bad queries were set aside
        assert "already done" in resumed.stdout and "empty query" in resumed.stderr
        assert not list(killed.glob("*.tmp"))
        assert _folder_bytes(killed) == _folder_bytes(whole)


@pytest.mark.slow  # a local Ray instance and three killed and resumed drivers (about 35 s)
def test_ray_resumes_a_job_the_local_engine_left_half_done(candidates, tmp_path):
    # The Ray engine (two actors, a local Ray instance) resumes a job the local engine left half done, and
    # ends with the same bytes. Both run one thread per model: float sums depend on the thread count (in the
    # sixth decimal on this CPU), and the Ray engine gives each of two actors one of the two cores.
    pytest.importorskip("ray", reason="the ray extra is not installed")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    whole = tmp_path / "whole-one-thread"
    run = subprocess.run(
        _command(candidates, whole) + ["--threads", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 3, run.stderr[-2000:]
    half = tmp_path / "half"
    _kill_when(_command(candidates, half) + ["--threads", "1"], env, half, 2)
    ray_command = _command(candidates, half) + ["--threads", "1", "--engine", "ray", "--workers", "2"]
    before = _ray_orphans()
    try:
        _kill_when(ray_command, env, half, 4)  # and a Ray driver killed in turn resumes on Ray
        on_ray = subprocess.run(ray_command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        # A killed driver leaves Ray's agent processes behind (Ray's behaviour); end the ones this test made.
        for pid in _ray_orphans() - before:
            os.kill(pid, signal.SIGKILL)
    assert on_ray.returncode == 3, on_ray.stderr[-2000:]
    assert "already done" in on_ray.stdout
    assert _folder_bytes(half) == _folder_bytes(whole)


def _kill_when(command, env, folder, shards: int) -> None:
    """Start the job and kill -9 it once `folder` holds `shards` finished shard files."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(folder.glob("run-*.trec"))) < shards:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()


def _ray_orphans() -> set[int]:
    """Ray processes adopted by init (their driver is gone)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if parent == 1 and (command.startswith(b"ray::") or b"/ray/" in command):
            pids.add(int(entry))
    return pids


def test_eval_reads_a_finished_folder_and_refuses_an_unfinished_one(minilm, candidates, tmp_path):
    out = tmp_path / "out"
    run_batch(minilm, candidates, out, shard_queries=5)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rankwise.cli",
            "eval",
            "--qrels",
            str(data_path("dl21", "qrels.txt")),
            "--run",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "nDCG@10" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["complete"] = False
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="has not finished"):
        run_files(out)
    with pytest.raises(InputError, match="another job's output"):
        run_batch(minilm, candidates, out, shard_queries=3)


BOUNDED_MEMORY_JOB = r"""
import json, sys
from rankwise.pipelines.batch import run_batch
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Ranking

class FirstStage(BaseReranker):
    method = "first-stage"
    def _rerank(self, requests):
        return [Ranking.first_stage(r) for r in requests]

def peak_mib():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork, so a child of a big
    # test process would report the parent's peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = peak_mib()
summary = run_batch(FirstStage("none"), sys.argv[1], sys.argv[2], shard_queries=50)
print(json.dumps({"queries": summary.queries, "rss_mib": peak_mib(), "rss_before_mib": before}))
"""


def test_memory_stays_bounded_on_an_input_larger_than_it(tmp_path):
    """A 290 MB JSONL input through a job whose peak memory must stay under 150 MB: only a shard at a time
    may be held. (The reranker is the first stage's order, so the test measures the pipeline, not a model.)"""
    path = tmp_path / "big.jsonl"
    passage = "fleas " * 500  # 3 KB
    with open(path, "w") as f:
        for q in range(1000):
            hits = [{"docid": f"d{q}-{i}", "score": 100.0 - i, "content": passage} for i in range(100)]
            f.write(json.dumps({"query": f"query {q}", "qid": f"q{q}", "hits": hits}) + "\n")
    size_mib = path.stat().st_size / 2**20
    assert size_mib > 280
    result = subprocess.run(
        [sys.executable, "-c", BOUNDED_MEMORY_JOB, str(path), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["queries"] == 1000
    assert report["rss_mib"] < 150 < size_mib, report


def test_a_job_is_known_by_its_input_content_not_its_modification_time(minilm, candidates, tmp_path):
    """A fresh copy of the same input (another machine's checkout) resumes the job; an edited input of the
    same size is another job, refused."""
    source = tmp_path / "candidates.jsonl"
    source.write_bytes(candidates.read_bytes())
    out = tmp_path / "out"
    first = run_batch(minilm, source, out, shard_queries=4)
    source.write_bytes(candidates.read_bytes())  # rewritten: a new modification time, the same bytes
    os.utime(source, ns=(10**9, 10**9))
    again = run_batch(minilm, source, out, shard_queries=4)
    assert again.resumed_shards == first.shards == 3
    edited = bytearray(candidates.read_bytes())
    first_letter = edited.index(b'"query": "') + len(b'"query": "')
    edited[first_letter] = ord("X") if edited[first_letter] != ord("X") else ord("Y")  # same size, other text
    source.write_bytes(bytes(edited))
    with pytest.raises(InputError, match="this folder holds another job's output"):
        run_batch(minilm, source, out, shard_queries=4)

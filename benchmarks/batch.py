"""Batch reranking throughput, side by side in one run: the plain in-process path, the local batch engine,
and the Ray engine with 1 and 2 workers, over DL 2019 + 2021 + 2022 BM25 candidates (172 queries); then
the time a local job takes to finish after a kill -9 at about half way.

    python benchmarks/batch.py [--model minilm-embed] [--top-k 100] [--shard-queries 16] [--work /tmp/bb]

Every engine writes the same bytes (checked here); the table gives queries/s, pairs/s and the overhead
against the plain path."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, dataset_dir  # noqa: E402


def combined_input(work: Path, top_k: int) -> tuple[Path, int, int]:
    entries = []
    for name in ("dl19", "dl21", "dl22"):
        for entry in json.loads((dataset_dir(name) / "bm25_top100.json").read_text()):
            entry["hits"] = entry["hits"][:top_k]
            entries.append(entry)
    path = work / "candidates.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path, len(entries), sum(len(e["hits"]) for e in entries)


def command(model: str, candidates: Path, out: Path, shard_queries: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "rankwise.cli", "rerank", "-m", model, "--input", str(candidates), "--output-dir",
            str(out), "--shard-queries", str(shard_queries), *extra]


def timed(arguments: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True)
    if result.returncode not in (0, 3):
        sys.exit(result.stderr[-3000:])
    return time.perf_counter() - start


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--shard-queries", type=int, default=16)
    parser.add_argument("--work", default="/tmp/rankwise-batch-bench")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    candidates, queries, pairs = combined_input(work, args.top_k)

    rows = []
    plain = work / "plain.trec"
    seconds = timed([sys.executable, "-m", "rankwise.cli", "rerank", "-m", args.model, "--input", str(candidates),
                     "--output", str(plain)])
    rows.append(("plain (rerank --output)", seconds))
    reference = None
    for label, extra in (("local engine", ()), ("Ray, 1 worker", ("--engine", "ray", "--workers", "1")),
                         ("Ray, 2 workers", ("--engine", "ray", "--workers", "2"))):
        out = work / label.replace(" ", "_").replace(",", "")
        rows.append((label, timed(command(args.model, candidates, out, args.shard_queries, *extra))))
        contents = {k: v for k, v in folder_bytes(out).items() if k != "manifest.json"}
        if reference is None:
            reference = contents
        elif contents != reference:
            sys.exit(f"{label} wrote different output than the local engine")

    # Kill -9 at about half way (by shards written), then time the rerun that finishes the job.
    killed = work / "killed"
    shards = -(-queries // args.shard_queries)
    process = subprocess.Popen(command(args.model, candidates, killed, args.shard_queries), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(list(killed.glob("run-*.trec"))) < shards // 2:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resume_seconds = timed(command(args.model, candidates, killed, args.shard_queries))
    same = {k: v for k, v in folder_bytes(killed).items() if k != "manifest.json"} == reference

    plain_seconds = rows[0][1]
    table = Table(title=f"{queries} queries, {pairs} pairs ({args.model}, BM25 top-{args.top_k}; "
                        f"{args.shard_queries} queries per shard; wall time including model loading)")
    for column in ("path", "seconds", "queries/s", "pairs/s", "vs plain"):
        table.add_column(column)
    for label, seconds in rows:
        table.add_row(label, f"{seconds:.1f}", f"{queries / seconds:.2f}", f"{pairs / seconds:.0f}",
                      f"{seconds / plain_seconds:.2f}x")
    table.add_row("resume after kill -9 at 50 %", f"{resume_seconds:.1f}", "", "",
                  f"{resume_seconds / rows[1][1]:.2f}x of a full local run; output identical: {same}")
    Console().print(table)


if __name__ == "__main__":
    main()

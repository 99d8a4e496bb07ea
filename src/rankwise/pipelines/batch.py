"""Batch reranking of large candidate files into a sharded output folder that a killed job resumes,
exactly once: `rankwise rerank --input big.jsonl --output-dir out/ --engine local`.

Shard k holds the queries at input positions [k * shard_queries, (k + 1) * shard_queries), so a shard's
content depends only on the input, the reranker and the shard size. A finished shard is written to a
temporary file and renamed into place (`run-00003.trec`, its bad queries in `errors-00003.jsonl`), then
recorded in `manifest.json` (also replaced atomically). A job killed at any moment and started again with
the same command skips the recorded shards and redoes the rest, so the folder ends identical to an
uninterrupted run's: no query missing or written twice. A bad query (empty text, duplicate docid, a query
id seen before) goes to the errors file with its reason and the job goes on. The input is read as a
stream (JSONL line by line), so memory holds one shard at a time."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io.candidates import iter_entries, parse_entry
from rankwise.io.trec import write_run
from rankwise.pipelines.rerank import rerank_requests
from rankwise.rerankers.base import BaseReranker
from rankwise.types import Request

MANIFEST = "manifest.json"


@dataclass
class BatchSummary:
    queries: int = 0
    errors: int = 0
    shards: int = 0
    resumed_shards: int = 0
    error_samples: list[str] = field(default_factory=list)


@dataclass
class _Shard:
    number: int
    requests: list[Request]
    errors: list[dict[str, Any]]


def _shards(path: Path, shard_queries: int) -> Iterator[_Shard]:
    """Shards of validated requests and per-entry errors, in input order."""
    seen: set[str] = set()
    current = _Shard(0, [], [])
    for index, (line, entry) in enumerate(iter_entries(path)):
        if index and index % shard_queries == 0:
            yield current
            current = _Shard(current.number + 1, [], [])
        try:
            request = parse_entry(entry, index, str(path), line)
            if request.query.qid in seen:
                raise InputError(f"entry {index}: query id {request.query.qid!r} appeared in an earlier entry",
                                 source=str(path), line=line)
            seen.add(request.query.qid)
            current.requests.append(request)
        except InputError as e:
            qid = entry.get("qid") if isinstance(entry, dict) else None
            current.errors.append({"entry": index, "line": line, "qid": qid, "error": str(e)})
    if current.requests or current.errors:
        yield current


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _job_description(input_path: Path, reranker: BaseReranker, shard_queries: int, top_k: int | None,
                     tag: str) -> dict[str, Any]:
    stat = input_path.stat()
    return {"input": str(input_path.resolve()), "input_bytes": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
            "reranker": json.loads(json.dumps(reranker.describe(), default=str)), "shard_queries": shard_queries,
            "top_k": top_k, "tag": tag}


def run_batch(reranker: BaseReranker, input_path: str | Path, output_dir: str | Path, shard_queries: int = 256,
              top_k: int | None = None, tag: str = "rankwise", queries_per_batch: int = 4,
              on_progress: Callable[[int], None] | None = None) -> BatchSummary:
    """Rerank every query of `input_path` into `output_dir`, resuming what an earlier run finished."""
    if shard_queries < 1:
        raise InputError(f"shard_queries must be >= 1, got {shard_queries}")
    input_path, out = Path(input_path), Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    job = _job_description(input_path, reranker, shard_queries, top_k, tag)
    manifest_path = out / MANIFEST
    manifest = {"job": job, "shards": {}, "complete": False}
    if manifest_path.exists():
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        if previous.get("job") != job:
            raise InputError("this folder holds another job's output (different input, reranker or settings); "
                             "choose another --output-dir or delete it", source=str(out))
        manifest = previous
    summary = BatchSummary()
    for shard in _shards(input_path, shard_queries):
        name = f"{shard.number:05d}"
        summary.shards += 1
        summary.errors += len(shard.errors)
        summary.error_samples += [e["error"] for e in shard.errors][: max(0, 5 - len(summary.error_samples))]
        if name in manifest["shards"] and (out / f"run-{name}.trec").exists():
            summary.resumed_shards += 1
            summary.queries += len(shard.requests)
            if on_progress:
                on_progress(len(shard.requests) + len(shard.errors))
            continue
        report = rerank_requests(reranker, shard.requests, top_k=top_k, queries_per_batch=queries_per_batch)
        _write_atomically(out / f"run-{name}.trec", lambda p: write_run(report.rankings, p, tag=tag))
        _write_atomically(out / f"errors-{name}.jsonl", lambda p: p.write_text(
            "".join(json.dumps(e) + "\n" for e in shard.errors), encoding="utf-8"))
        manifest["shards"][name] = {"queries": len(shard.requests), "errors": len(shard.errors)}
        _write_atomically(manifest_path, lambda p: p.write_text(json.dumps(manifest, indent=2), encoding="utf-8"))
        summary.queries += len(shard.requests)
        if on_progress:
            on_progress(len(shard.requests) + len(shard.errors))
    manifest["complete"] = True
    _write_atomically(manifest_path, lambda p: p.write_text(json.dumps(manifest, indent=2), encoding="utf-8"))
    return summary


def run_files(path: str | Path) -> list[Path]:
    """A run path as files: the file itself, or a batch output folder's shards in order (refusing an
    unfinished job, whose run would silently miss queries)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    manifest_path = path / MANIFEST
    if not manifest_path.exists():
        raise InputError(f"a folder given as a run must be a batch output with {MANIFEST}", source=str(path))
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not manifest.get("complete"):
        raise InputError("this batch job has not finished; run the same command again to complete it",
                         source=str(path))
    return [path / f"run-{name}.trec" for name in sorted(manifest["shards"])]

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
from rankwise.io.candidates import iter_validated
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.rerank import shard_run_text
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.compose.spec import RerankerSpec
from rankwise.rerankers.registry import load_spec
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
    current = _Shard(0, [], [])
    for index, line, entry, outcome in iter_validated(path):
        if index and index % shard_queries == 0:
            yield current
            current = _Shard(current.number + 1, [], [])
        if isinstance(outcome, InputError):
            qid = entry.get("qid") if isinstance(entry, dict) else None
            current.errors.append({"entry": index, "line": line, "qid": qid, "error": str(outcome)})
        else:
            current.requests.append(outcome)
    if current.requests or current.errors:
        yield current


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    os.replace(temporary, path)


def _job_description(
    input_path: Path, reranker: BaseReranker | RerankerSpec, shard_queries: int, top_k: int | None, tag: str
) -> dict[str, Any]:
    # The input is known by its content, not its modification time: a copy of the same file (a fresh checkout
    # on another machine, where a killed job resumes) is the same job; an edited file of the same size is not.
    from rankwise.models.sources import sha256_of

    return {
        "input": str(input_path.resolve()),
        "input_bytes": input_path.stat().st_size,
        "input_sha256": sha256_of(input_path),
        "reranker": json.loads(json.dumps(reranker.describe(), default=str)),
        "shard_queries": shard_queries,
        "top_k": top_k,
        "tag": tag,
    }


class _Output:
    """The output folder: which shards are done, and the atomic writes that record one more."""

    def __init__(self, out: Path, job: dict[str, Any]):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.manifest_path = out / MANIFEST
        self.manifest: dict[str, Any] = {"job": job, "shards": {}, "complete": False}
        if self.manifest_path.exists():
            previous = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if previous.get("job") != job:
                raise InputError(
                    "this folder holds another job's output (different input, reranker or settings); "
                    "choose another --output-dir or delete it",
                    source=str(out),
                )
            self.manifest = previous

    def is_done(self, shard: _Shard) -> bool:
        name = f"{shard.number:05d}"
        return name in self.manifest["shards"] and (self.out / f"run-{name}.trec").exists()

    def record(self, shard: _Shard, run_text: str) -> None:
        name = f"{shard.number:05d}"
        _write_atomically(self.out / f"run-{name}.trec", lambda p: p.write_text(run_text, encoding="utf-8"))
        _write_atomically(
            self.out / f"errors-{name}.jsonl",
            lambda p: p.write_text("".join(json.dumps(e) + "\n" for e in shard.errors), encoding="utf-8"),
        )
        self.manifest["shards"][name] = {"queries": len(shard.requests), "errors": len(shard.errors)}
        self._save()

    def finish(self) -> None:
        self.manifest["complete"] = True
        self._save()

    def _save(self) -> None:
        _write_atomically(
            self.manifest_path,
            # sorted: shards finish in any order on Ray, and the bytes must not depend on it
            lambda p: p.write_text(json.dumps(self.manifest, indent=2, sort_keys=True), encoding="utf-8"),
        )


def run_batch(
    reranker: BaseReranker | RerankerSpec,
    input_path: str | Path,
    output_dir: str | Path,
    shard_queries: int = 256,
    top_k: int | None = None,
    tag: str = "rankwise",
    queries_per_batch: int = 4,
    on_progress: OnProgress | None = None,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
) -> BatchSummary:
    """Rerank every query of `input_path` into `output_dir`, resuming what an earlier run finished.
    `engine="ray"` scores shards on `workers` Ray actors (each loads the reranker once; give a
    `RerankerSpec`), on a local Ray instance or the cluster at `address`; the output is the same bytes."""
    if shard_queries < 1:
        raise InputError(f"shard_queries must be >= 1, got {shard_queries}")
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; available: {', '.join(ENGINES)}")
    input_path = Path(input_path)
    output = _Output(Path(output_dir), _job_description(input_path, reranker, shard_queries, top_k, tag))
    summary = BatchSummary()

    def pending() -> Iterator[_Shard]:
        for shard in _shards(input_path, shard_queries):
            summary.shards += 1
            summary.queries += len(shard.requests)
            summary.errors += len(shard.errors)
            summary.error_samples += [e["error"] for e in shard.errors][: max(0, 5 - len(summary.error_samples))]
            if output.is_done(shard):
                summary.resumed_shards += 1
                if on_progress:
                    on_progress(len(shard.requests) + len(shard.errors))
                continue
            yield shard

    def done(shard: _Shard, run_text: str) -> None:
        output.record(shard, run_text)
        if on_progress:
            on_progress(len(shard.requests) + len(shard.errors))

    settings = dict(top_k=top_k, tag=tag, queries_per_batch=queries_per_batch)
    if engine == "ray":
        from rankwise.pipelines.batch_ray import run_on_ray

        run_on_ray(reranker, pending(), done, settings, workers=workers, address=address)
    else:
        model = load_spec(reranker) if isinstance(reranker, RerankerSpec) else reranker
        for shard in pending():
            done(shard, shard_run_text(model, shard.requests, **settings))
    output.finish()
    return summary


ENGINES = ("local", "ray")


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
        raise InputError("this batch job has not finished; run the same command again to complete it", source=str(path))
    return [path / f"run-{name}.trec" for name in sorted(manifest["shards"])]

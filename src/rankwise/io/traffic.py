"""Served traffic, logged for replay (`serve --log-requests DIR`, off by default): one JSONL line per scored
request, with what was asked and what was answered: the route, the model, the query and instruction, the
documents' texts and ids, every document's raw score in input order and the order they gave, and the
seconds from the request's headers to its scores. API keys and headers are never written. `sample` keeps
that share of requests (drawn per request); files rotate by hour and by size (`traffic-YYYYMMDD-HH-N.jsonl`),
each line appended, flushed and fsynced before the answer leaves, so a killed server loses no logged
request. `rankwise replay DIR` reads them back (`read_traffic`; `pipelines/replay.py`)."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "traffic-"


@dataclass
class TrafficLog:
    folder: Path
    sample: float = 1.0
    max_file_bytes: int = 256 * 2**20
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def wanted(self) -> bool:
        return self.sample >= 1.0 or self._random.random() < self.sample

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (called off the event loop)."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            path = self._current(len(line))
            with open(path, "ab") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())

    def _current(self, adding: int) -> Path:
        hour = time.strftime("%Y%m%d-%H", time.gmtime())
        number = 0
        while True:
            path = self.folder / f"{PREFIX}{hour}-{number}.jsonl"
            if not path.exists() or path.stat().st_size + adding <= self.max_file_bytes:
                return path
            number += 1


def traffic_record(
    route: str,
    model: str,
    query: str,
    instruction: str | None,
    texts: list[str],
    docids: list[str] | None,
    scores: list[float],
    score_kind: str,
    seconds: float,
) -> dict[str, Any]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return {
        "time": time.time(),
        "route": route,
        "model": model,
        "query": query,
        "instruction": instruction,
        "documents": texts,
        "ids": docids,
        "scores": scores,
        "score_kind": score_kind,
        "order": order,
        "seconds": round(seconds, 4),
    }


def read_traffic(folder: str | Path) -> list[dict[str, Any]]:
    """Every logged request in `folder`, oldest file first. Read-only, so a serving process may still be
    appending: a last line without its newline (being written, or torn by a kill) is left out."""
    from rankwise.errors import InputError

    folder = Path(folder)
    paths = sorted(folder.glob(f"{PREFIX}*.jsonl"), key=_file_order)
    if not paths:
        raise InputError(
            f"no traffic log here (expected {PREFIX}*.jsonl from `serve --log-requests`)", source=str(folder)
        )
    records = []
    for path in paths:
        data = path.read_bytes()
        for number, line in enumerate(data[: data.rfind(b"\n") + 1].splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise InputError("not a traffic log line", source=str(path), line=number) from None
            if not isinstance(record, dict) or not all(k in record for k in ("query", "documents", "order")):
                raise InputError("a traffic line holds query, documents and order", source=str(path), line=number)
            records.append(record)
    return records


def _file_order(path: Path) -> tuple[str, int]:
    hour, _, number = path.stem.removeprefix(PREFIX).rpartition("-")
    return hour, int(number) if number.isdigit() else 0

"""Judgments on disk the moment they are made: one JSON line per judgment appended to `judgments.jsonl`
(`io.resumable.ResumableJsonl`: flushed and fsynced, a line torn by a kill cut off on reopening), read back
on a rerun so that no pair is judged twice, and the TREC qrels
(`qrels.txt`, grades 0-3) written from them atomically (a temporary file renamed over the old one)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io.resumable import ResumableJsonl

JUDGMENTS = "judgments.jsonl"
QRELS = "qrels.txt"


class JudgmentStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JUDGMENTS
        self.log = ResumableJsonl(self.path, "judgment", key=None)
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        for number, record in enumerate(self.log.records(), start=1):
            try:
                key = (str(record["qid"]), str(record["docid"]))
                int(record["grade"])
            except (KeyError, TypeError, ValueError):
                raise InputError("not a judgment (qid, docid, grade)", source=str(self.path), line=number) from None
            self.records[key] = record

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Append the records and make them durable before returning."""
        batch = list(records)
        for record in batch:
            self.records[(str(record["qid"]), str(record["docid"]))] = record
        if batch:
            self.log.append(batch)

    def qrels(self) -> dict[str, dict[str, int]]:
        qrels: dict[str, dict[str, int]] = {}
        for (qid, docid), record in self.records.items():
            qrels.setdefault(qid, {})[docid] = int(record["grade"])
        return qrels

    def write_qrels(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path is not None else self.folder / QRELS
        lines = [
            f"{qid} 0 {docid} {grade}\n"
            for qid, docs in sorted(self.qrels().items())
            for docid, grade in sorted(docs.items())
        ]
        temporary = target.with_suffix(target.suffix + ".tmp")
        temporary.write_text("".join(lines), encoding="utf-8")
        os.replace(temporary, target)
        return target

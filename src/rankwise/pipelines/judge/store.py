"""Judgments on disk the moment they are made: one JSON line per judgment appended to `judgments.jsonl`
(flushed and fsynced), read back on a rerun so that no pair is judged twice, and the TREC qrels
(`qrels.txt`, grades 0-3) written from them atomically (a temporary file renamed over the old one)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rankwise.errors import InputError

JUDGMENTS = "judgments.jsonl"
QRELS = "qrels.txt"


class JudgmentStore:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JUDGMENTS
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        self._mend_last_line()
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = (str(record["qid"]), str(record["docid"]))
                int(record["grade"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                raise InputError("not a judgment (qid, docid, grade)", source=str(self.path), line=number) from None
            self.records[key] = record

    def _mend_last_line(self) -> None:
        """A kill mid-write leaves a last line without its newline: kept (and ended) when it is a whole
        record, cut off otherwise, so that the pair is judged again and the next line starts clean."""
        raw = self.path.read_bytes()
        if not raw or raw.endswith(b"\n"):
            return
        start = raw.rfind(b"\n") + 1
        try:
            json.loads(raw[start:])
            whole = True
        except ValueError:
            whole = False
        with open(self.path, "r+b") as f:
            if whole:
                f.seek(0, os.SEEK_END)
                f.write(b"\n")
            else:
                f.truncate(start)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Append the records and make them durable before returning."""
        lines = []
        for record in records:
            self.records[(str(record["qid"]), str(record["docid"]))] = record
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        if not lines:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.writelines(lines)
            f.flush()
            os.fsync(f.fileno())

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

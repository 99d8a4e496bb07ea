"""Append-only JSONL files that a killed run continues: one finished item per line, written and flushed
as it completes.

On reopening, a torn last line (the process died mid-write) is cut off, and the ids of the complete lines
must be a prefix of the ids the run is about to produce, in order; the rest are then produced in the same
order. So a finished file equals an uninterrupted run's, byte for byte, for a deterministic producer."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankwise.errors import InputError


class ResumableJsonl:
    """`key` is the field every line must carry (None: any JSON object will do)."""

    def __init__(self, path: str | Path, what: str, key: str | None = "qid"):
        self.path = Path(path)
        self.what = what
        self.key = key

    def records(self) -> list[dict[str, Any]]:
        """The complete lines, parsed, cutting off a torn tail so appends continue a clean file; the line
        number of a record is its index + 1."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            with open(self.path, "r+b") as f:
                f.truncate(keep)
        records = []
        for number, line in enumerate(data[:keep].splitlines(), start=1):
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or (self.key is not None and self.key not in record):
                    raise TypeError
            except (json.JSONDecodeError, TypeError):
                raise InputError(
                    f"not a {self.what} line; delete the file to start over", source=str(self.path), line=number
                ) from None
            records.append(record)
        return records

    def finished_ids(self) -> list[str]:
        """Ids of the complete lines."""
        assert self.key is not None
        return [str(record[self.key]) for record in self.records()]

    def remaining(self, expected_ids: Sequence[str]) -> int:
        """How many of `expected_ids` are already finished; refuses a file that is not their prefix."""
        done = self.finished_ids()
        if done != list(expected_ids[: len(done)]):
            raise InputError(
                f"the existing {self.what} lines are not a prefix of this run's (different input, "
                "order or options); delete the file to start over",
                source=str(self.path),
            )
        return len(done)

    def append(self, entries: Sequence[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            for entry in entries:
                f.write(json.dumps(entry) + "\n")
            f.flush()
            os.fsync(f.fileno())

"""Line-by-line text reading that turns decoding problems into errors naming the file and line.

Line files (JSONL, TREC runs and qrels, TSV topics) are read one line at a time, so a file larger than
memory streams; whole-JSON files are parsed at once (JSON has no line structure to stream by)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rankwise.errors import InputError


def open_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", source=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=str(path)) from None


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(
            f"not valid UTF-8 (byte {e.start}: {data[e.start : e.start + 1]!r})", source=source, line=line
        ) from None


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without newline), skipping blank lines, reading one line at a time."""
    source = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115  (closed by the `with` below, once opening errors are named)
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=source) from None
    with handle:
        offset = 0
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"not valid UTF-8 (byte {offset + e.start}: {raw[e.start : e.start + 1]!r})",
                    source=source,
                    line=number,
                ) from None
            offset += len(raw)
            line = line.rstrip("\r\n")
            if line.strip():
                yield number, line


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    for number, line in iter_lines(path):
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON: {e.msg} (column {e.colno})", source=str(path), line=number) from None


def load_json(path: str | Path) -> Any:
    text = decode_utf8(open_bytes(path), str(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"malformed JSON: {e.msg} (column {e.colno})", source=str(path), line=e.lineno) from None

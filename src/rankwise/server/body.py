"""Reading a request body as JSON within bounds, off the event loop: its encoding, its size once decoded,
how many values and how deep, and the values JSON allows but a reranking request never means.

FastAPI parses a body with `json.loads` on the event loop and bounds nothing but its bytes, so a 33 MB body
of 16 million zeros became 16 million Python objects (and a walk over them ~4 GB). Here the body is
checked before it is parsed, in one pass over its bytes in C (strings blanked by a regular expression,
structural characters counted), then parsed on a worker thread with hooks that refuse duplicate keys,
`NaN`/`Infinity`, numbers that overflow a double and integers of thousands of digits, each with its own
message. `BoundedJsonRoute` is FastAPI's documented way to change how a route reads its request
(a custom `APIRoute` with its own `Request`), so no private interface is touched."""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import HTTPException
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


class BodyError(HTTPException):
    """A body refused before validation, answered in the service's error shape. FastAPI passes an
    HTTPException raised while reading a body through unchanged."""

    def __init__(self, status: int, message: str, close: bool = False):
        super().__init__(status, message, headers={"Connection": "close"} if close else None)


@dataclass(frozen=True)
class JsonLimits:
    """What one request body may hold. `max_values` counts every JSON value (each string, number, literal,
    object and array); `max_depth` is the deepest nesting of objects and arrays."""

    max_bytes: int  # after decompression too
    max_values: int = 100_000
    max_depth: int = 64
    # A list under one of these keys is refused from its length before any item is validated (each invalid
    # item would cost an error object): the routes' document lists.
    max_documents: int | None = None
    counted_fields: tuple[str, ...] = ("documents", "texts")


# A JSON string with its escapes, matched without backtracking (the "unrolled loop" form).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS_ONLY = bytes(c for c in range(256) if c not in b"[]{}")
MAX_INTEGER_DIGITS = 4300  # Python's own int-from-string limit (sys.get_int_max_str_digits), said plainly


ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")


def unsupported_encoding(encoding: str | None) -> str | None:
    """Why a Content-Encoding is refused (415), or None for one the service decodes; the guard asks from the
    headers, before any body byte is read."""
    name = (encoding or "identity").strip().lower()
    if name in ENCODINGS:
        return None
    return f"Content-Encoding {name!r} is not supported: send the body uncompressed, or gzip or deflate"


def decompressed(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The body as sent, decoded from gzip or deflate within `limit` bytes; another encoding is a 415."""
    refusal = unsupported_encoding(encoding)
    if refusal is not None:
        raise BodyError(415, refusal)
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return raw
    wbits = 16 + zlib.MAX_WBITS if name != "deflate" else zlib.MAX_WBITS
    decoder = zlib.decompressobj(wbits)
    try:
        body = decoder.decompress(raw, limit + 1)
    except zlib.error as e:
        raise BodyError(400, f"the body is not valid {name} data ({e})") from None
    if len(body) > limit or decoder.unconsumed_tail:
        raise BodyError(413, f"the body decompresses to over the limit of {limit} bytes")
    if not decoder.eof:
        raise BodyError(400, f"the {name} body is truncated")
    return body


def check_charset(content_type: str | None) -> None:
    """JSON is UTF-8 (RFC 8259); a body declared in another charset is refused rather than misread."""
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise BodyError(415, f"the body must be UTF-8 JSON, not charset {value.strip()!r}")


def scan(raw: bytes, limits: JsonLimits) -> None:
    """Refuse a body with too many values or too deep a nesting from its bytes, before any object exists."""
    structure = _STRING.sub(b'""', raw).translate(None, b" \t\r\n")
    # A container of n values holds n - 1 commas: every value but the root follows a comma or opens a
    # non-empty container.
    opened = structure.count(b"[") + structure.count(b"{")
    values = 1 + structure.count(b",") + opened - structure.count(b"[]") - structure.count(b"{}")
    if values > limits.max_values:
        raise BodyError(
            413, f"the body holds about {values} JSON values, over the limit of {limits.max_values} per request"
        )
    depth = deepest(structure.translate(None, _BRACKETS_ONLY))
    if depth > limits.max_depth:
        raise BodyError(413, f"the body is nested {depth} levels deep, over the limit of {limits.max_depth}")


def deepest(brackets: bytes) -> int:
    level = deepest_level = 0
    for c in brackets:  # at most 2 x max_values characters: the value count is checked first
        level += 1 if c in (91, 123) else -1
        deepest_level = max(deepest_level, level)
    return deepest_level


def parse(raw: bytes, limits: JsonLimits) -> Any:
    """The body's JSON value, or a BodyError that names what is wrong with it."""
    scan(raw, limits)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BodyError(400, f"the body is not UTF-8: invalid byte at offset {e.start}") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte order mark is still UTF-8
    try:
        value = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_float=_float, parse_int=_int
        )
    except json.JSONDecodeError as e:
        raise BodyError(400, f"malformed JSON body: {e.msg} at line {e.lineno} column {e.colno}") from None
    check_counts(value, limits)
    return value


def check_counts(value: Any, limits: JsonLimits) -> None:
    """A document list over `max_documents`, refused from its length alone."""
    if limits.max_documents is None or not isinstance(value, dict):
        return
    for name in limits.counted_fields:
        items = value.get(name)
        if isinstance(items, list) and len(items) > limits.max_documents:
            raise BodyError(413, f"{len(items)} documents, over the limit of {limits.max_documents} per request")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BodyError(400, f"duplicate key {_shown(key)} in a JSON object: send each key once")
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyError(422, f"the key {_shown(key)} holds a lone UTF-16 surrogate, which is not text") from None
        result[key] = value
    return result


def _shown(key: str) -> str:
    return json.dumps(key[:64])


def _constant(name: str) -> Any:
    raise BodyError(422, f"{name} is not a JSON number: send finite numbers only")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(422, f"the number {text[:40]} is too large for a double: send finite numbers only")
    return value


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise BodyError(422, f"an integer of {digits} digits, over the limit of {MAX_INTEGER_DIGITS}")
    return int(text)


class BoundedJsonRequest(Request):
    """A request whose `json()` is `parse` within the service's limits, decompressed and run off the loop."""

    limits: JsonLimits

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            check_charset(self.headers.get("content-type"))
            body = decompressed(raw, self.headers.get("content-encoding"), self.limits.max_bytes)
            self._json = await run_in_threadpool(parse, body, self.limits)
        return self._json


class BoundedJsonRoute(APIRoute):
    """A route whose JSON body is read by `BoundedJsonRequest`, within the served app's
    `settings.json_limits` (FastAPI's custom route class, set on each router)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            wrapped = BoundedJsonRequest(request.scope, request.receive)
            wrapped.limits = request.app.state.service.settings.json_limits
            return await handler(wrapped)

        return bounded

"""What is decided before a request body is read: authentication (from the headers alone), the media
type (JSON only), the body size cap (from Content-Length, and while a chunked body streams in) and the
body deadline. A pure ASGI
middleware, so a refused request costs a few header bytes: a 1 GB body without a key is answered 401
without reading it, an oversized one 413 without buffering the rest, and one that trickles in (a byte a
second) 408 once `body_timeout` seconds have passed since its headers."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException

from rankwise.server.schemas import error_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the cap; FastAPI passes HTTPExceptions through its
    body parsing unchanged, so it is answered 413 by the app's handler."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over the limit of {limit} bytes")


class BodyTimeout(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"request body not received within {seconds:g} s")


def key_matches(presented: bytes, keys: Iterable[bytes]) -> bool:
    """Constant-time comparison on bytes (keys are UTF-8), so any token, non-ASCII included, is compared
    rather than crashed on."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    return matched


class RequestGuard:
    def __init__(self, app: Callable, api_keys: Iterable[str], open_paths: Iterable[str], max_body_bytes: int,
                 body_timeout: float = 60.0):
        self.app = app
        self.keys = [k.encode("utf-8") for k in api_keys]
        self.open_paths = frozenset(open_paths)
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        if self.keys and scope["path"] not in self.open_paths and not self._authorized(headers):
            return await _answer(send, scope, 401, "missing or invalid API key (send 'Authorization: Bearer <key>')",
                                 {"www-authenticate": "Bearer"})
        if scope.get("method") == "POST" and b"content-type" not in headers:
            # Clients that omit the header send JSON; say so, or FastAPI would not parse the body at all.
            scope["headers"] = [*scope.get("headers", []), (b"content-type", b"application/json")]
        elif scope.get("method") == "POST" and not _is_json(headers[b"content-type"]):
            sent = headers[b"content-type"].decode("latin-1").split(";")[0].strip()
            return await _answer(send, scope, 415, f"the body must be JSON: send 'Content-Type: application/json', "
                                                   f"not {sent!r}")
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                return await _answer(send, scope, 400, "Content-Length is not a number")
            if declared > self.max_body_bytes:
                return await _answer(send, scope, 413, f"request body of {declared} bytes is over the limit of "
                                                       f"{self.max_body_bytes} bytes")
        received = 0
        limit, timeout = self.max_body_bytes, self.body_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        body_complete = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, body_complete
            if body_complete:  # later calls wait for a disconnect, which has no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except asyncio.TimeoutError:
                raise BodyTimeout(timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                body_complete = not message.get("more_body", False)
            return message

        # Once the body is in, nothing reads from the client any more, so a disconnect would go unnoticed
        # and abandoned work would run to its end: a watcher waits for it and sets this event.
        client_gone = asyncio.Event()
        scope.setdefault("state", {})["client_gone"] = client_gone
        watcher: asyncio.Task | None = None

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            client_gone.set()

        async def counted_receive_then_watch() -> dict[str, Any]:
            nonlocal watcher
            message = await counted_receive()
            if body_complete and watcher is None:
                watcher = asyncio.create_task(watch_disconnect())
            return message

        try:
            await self.app(scope, counted_receive_then_watch, send)
        finally:
            if watcher is not None:
                watcher.cancel()

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and key_matches(token.strip(), self.keys)


def _is_json(content_type: bytes) -> bool:
    """application/json or a +json type. Form and text bodies are refused, so `curl -d` without a JSON
    header gets an answer that says what to send."""
    media = content_type.split(b";")[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


async def _answer(send: Send, scope: Scope, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    """A JSON error in the service's shape, with the request id the outer middleware assigned."""
    request_id = scope.get("state", {}).get("request_id")
    body = json.dumps(error_body(status, message, request_id)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})

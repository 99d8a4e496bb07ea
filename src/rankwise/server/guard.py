"""What is decided before a request body is read: framing in doubt (Content-Length with Transfer-Encoding,
two Authorization headers, an HTTP version other than 1.0/1.1, an unknown Content-Encoding), authentication
(from the headers alone), the media type (JSON only), the body size cap (from Content-Length, and while a
chunked body streams in), the body deadline, and two server-wide budgets: bodies arriving at once
(`max_body_senders`) and bytes of requests in progress (`max_inflight_bytes`, held until the answer), so
that many slow or large uploads cannot take every connection or the memory. It also notes when the
request's headers arrived: the request deadline counts from there. A pure ASGI
middleware, so a refused request costs a few header bytes: a 1 GB body without a key is answered 401
without reading it, an oversized one 413 without buffering the rest, and one that trickles in (a byte a
second) 408 once `body_timeout` seconds have passed since its headers."""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from rankwise.server.body import BodyError, unsupported_encoding
from rankwise.server.schemas import error_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BodyTooLarge(BodyError):
    """Raised from `receive` when a streamed body passes the cap; FastAPI passes HTTPExceptions through its
    body parsing unchanged, so it is answered 413 by the app's handler, closing the connection (the rest of
    the body is never read, so it must not be parsed as the next request)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body over the limit of {limit} bytes", close=True)


class BodyTimeout(BodyError):
    def __init__(self, seconds: float):
        super().__init__(408, f"request body not received within {seconds:g} s", close=True)


def key_matches(presented: bytes, keys: Iterable[bytes]) -> bool:
    """Constant-time comparison on bytes (keys are UTF-8), so any token, non-ASCII included, is compared
    rather than crashed on."""
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, key)
    return matched


class RequestGuard:
    def __init__(
        self,
        app: Callable,
        api_keys: Iterable[str],
        open_paths: Iterable[str],
        max_body_bytes: int,
        body_timeout: float = 60.0,
        max_inflight_bytes: int | None = None,
        max_body_senders: int = 256,
    ):
        self.app = app
        self.keys = [k.encode("utf-8") for k in api_keys]
        self.open_paths = frozenset(open_paths)
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_inflight_bytes = max_inflight_bytes if max_inflight_bytes is not None else 8 * max_body_bytes
        self.max_body_senders = max_body_senders
        self.inflight_bytes = 0  # body bytes declared or received by requests not yet answered
        self.body_senders = 0  # requests whose body is still arriving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope.setdefault("state", {})["arrived"] = asyncio.get_running_loop().time()
        raw_headers = scope.get("headers", [])
        headers = {name.lower(): value for name, value in raw_headers}
        refusal = self._framing_refusal(scope, raw_headers, headers)
        if refusal is not None:
            return await _answer(send, scope, *refusal)
        if self.keys and scope["path"] not in self.open_paths and not self._authorized(headers):
            return await _answer(
                send,
                scope,
                401,
                "missing or invalid API key (send 'Authorization: Bearer <key>')",
                {"www-authenticate": "Bearer"},
            )
        if scope.get("method") == "POST" and b"content-type" not in headers:
            # Clients that omit the header send JSON; say so, or FastAPI would not parse the body at all.
            scope["headers"] = [*raw_headers, (b"content-type", b"application/json")]
        elif scope.get("method") == "POST" and not _is_json(headers[b"content-type"]):
            sent = headers[b"content-type"].decode("latin-1").split(";")[0].strip()
            return await _answer(
                send, scope, 415, f"the body must be JSON: send 'Content-Type: application/json', not {sent!r}"
            )
        length = headers.get(b"content-length")
        try:
            declared = int(length) if length is not None else 0
        except ValueError:  # h11 refuses this before us; an app under another server may not
            return await _answer(send, scope, 400, "Content-Length is not a number")
        if declared > self.max_body_bytes:
            return await _answer(
                send, scope, 413, f"request body of {declared} bytes is over the limit of {self.max_body_bytes} bytes"
            )
        has_body = declared > 0 or b"transfer-encoding" in headers
        if has_body and self.body_senders >= self.max_body_senders:
            return await _answer(
                send,
                scope,
                503,
                f"{self.body_senders} request bodies are arriving at once, the limit; retry later",
                {"retry-after": "1"},
            )
        if self.inflight_bytes + declared > self.max_inflight_bytes:
            return await _answer(
                send,
                scope,
                503,
                f"the server holds {self.inflight_bytes} bytes of requests in "
                f"progress; this one would pass the limit of "
                f"{self.max_inflight_bytes}; retry later",
                {"retry-after": "1"},
            )
        await self._admitted(scope, receive, send, declared, has_body)

    def _framing_refusal(self, scope: Scope, raw_headers: list, headers: dict[bytes, bytes]) -> tuple | None:
        """Framing or identity in doubt: refuse (and close) rather than pick one reading of the request."""
        if scope.get("http_version") not in ("1.0", "1.1"):
            return 505, f"HTTP/{scope.get('http_version')} is not supported: send HTTP/1.1"
        if b"content-length" in headers and b"transfer-encoding" in headers:
            return 400, "Content-Length and Transfer-Encoding together: send one of them"
        if sum(1 for name, _ in raw_headers if name.lower() == b"authorization") > 1:
            return 400, "more than one Authorization header: send one"
        refusal = unsupported_encoding(headers.get(b"content-encoding", b"identity").decode("latin-1"))
        if refusal is not None:
            return 415, refusal
        return None

    async def _admitted(self, scope: Scope, receive: Receive, send: Send, declared: int, has_body: bool) -> None:
        """Run the app with the body counted against the cap, the deadline, and the in-flight budget."""
        received = 0
        reserved = declared
        self.inflight_bytes += reserved
        sending = has_body
        if sending:
            self.body_senders += 1
        limit, timeout = self.max_body_bytes, self.body_timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        body_complete = False

        def body_done() -> None:
            nonlocal sending
            if sending:
                sending = False
                self.body_senders -= 1

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, body_complete, reserved
            if body_complete:  # later calls wait for a disconnect, which has no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.0))
            except asyncio.TimeoutError:
                body_done()
                raise BodyTimeout(timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    body_done()
                    raise BodyTooLarge(limit)
                if received > reserved:  # a chunked body grows its reservation as it arrives
                    self.inflight_bytes += received - reserved
                    reserved = received
                    if self.inflight_bytes > self.max_inflight_bytes:
                        body_done()
                        raise BodyError(
                            503,
                            f"the server holds {self.inflight_bytes} bytes of requests in "
                            "progress, over its limit; retry later",
                            close=True,
                        )
                body_complete = not message.get("more_body", False)
                if body_complete:
                    body_done()
            else:
                body_done()
            return message

        # Once the body is in, nothing reads from the client any more, so a disconnect would go unnoticed
        # and abandoned work would run to its end: a watcher waits for it and sets this event.
        client_gone = asyncio.Event()
        scope["state"]["client_gone"] = client_gone
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
            body_done()
            self.inflight_bytes -= reserved
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
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})

"""Connection-level limits that uvicorn does not give: a deadline for a request's headers, and a cap on open
connections that sheds the idle or slow ones first.

uvicorn's own `limit_concurrency` answers 503 only once a request's headers have arrived, so connections
that never finish their headers (slowloris) are never counted against anything and pile up until the
process runs out of file descriptors, after which even `/health` is unreachable. Here:

- every connection gets `header_timeout` seconds to deliver a complete request line and headers (on a
  kept-alive connection, counted again after each response); past that it is closed;
- at `max_connections` open connections, a new one evicts the oldest connection that is still waiting for
  headers (an attacker's, typically); failing that, the slowest one still sending its body at under
  `min_body_rate` bytes/s (averaged since its headers, after `body_grace` seconds), so a real client, a
  health probe included, still gets in while slow senders hold every slot. Only when every open connection
  is sending fast or is busy with a request is the newcomer itself closed.

The body deadline is enforced in the ASGI layer (`guard.RequestGuard`), where a 408 can be answered."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
from dataclasses import dataclass
from http import HTTPStatus

from rankwise.errors import InputError
from rankwise.server.schemas import error_body

log = logging.getLogger("rankwise.server")


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 1000
    header_timeout: float = 10.0  # seconds for the request line and headers
    body_timeout: float = 60.0  # seconds for the whole body, once the headers are in
    min_body_rate: float = 1024.0  # bytes/s under which a body sender may be evicted at the cap
    body_grace: float = 1.0  # seconds of body sending before its rate counts

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise InputError(f"max_connections must be at least 1, not {self.max_connections}")
        if self.header_timeout <= 0 or self.body_timeout <= 0:
            raise InputError("header and body timeouts must be positive seconds")


def ensure_descriptor_room(max_connections: int, reserve: int = 64) -> int:
    """Raise the soft open-files limit, if needed and allowed, so the connection cap is reached before the
    process runs out of descriptors; returns the cap that can actually be honoured."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + reserve
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft - reserve < max_connections:
        honoured = max(1, soft - reserve)
        log.warning("open-files limit is %d: capping connections at %d instead of %d", soft, honoured, max_connections)
        return honoured
    return max_connections


# The methods GuardedH11Protocol overrides of uvicorn's H11Protocol, an internal class: checked when the
# server starts (and by a test), so an incompatible uvicorn is a clear error instead of a silent gap. It also
# reads the instance attributes conn, cycle, transport, connections and loop, which exist only once a
# connection is made; the version pin covers them.
H11_PROTOCOL_METHODS = (
    "connection_made",
    "data_received",
    "handle_events",
    "on_response_complete",
    "connection_lost",
    "send_400_response",
)


H11_MAX_HEAD = 16 * 1024  # h11's own default for a request's line and headers, which uvicorn keeps


def check_uvicorn_compatible(protocol_class: type) -> None:
    import uvicorn

    missing = [name for name in H11_PROTOCOL_METHODS if not callable(getattr(protocol_class, name, None))]
    if missing:
        raise InputError(
            f"uvicorn {uvicorn.__version__} changed its h11 protocol ({', '.join(missing)} missing); "
            "rankwise serve needs uvicorn>=0.29,<0.56: pip install 'uvicorn<0.56'"
        )


def guarded_h11_protocol(limits: ConnectionLimits) -> type:
    """uvicorn's h11 protocol class with the header deadline, the shedding cap and HTTP-layer errors in the
    service's JSON shape (pass it as `http=`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    check_uvicorn_compatible(H11Protocol)

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self.opened_at = self.loop.time()
            self._header_deadline: asyncio.TimerHandle | None = None
            self.bytes_in = 0
            self._body_since: tuple[float, int] | None = None  # (when the headers were in, bytes by then)
            if len(self.connections) > limits.max_connections and not self._shed_one():
                transport.close()
                return
            self._arm_header_deadline()

        def _waiting_for_headers(self) -> bool:
            return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

        def _body_rate(self) -> float | None:
            """Bytes/s of the body being received, once it has been sending for `body_grace` seconds."""
            if self._body_since is None or self.conn.their_state is not h11.SEND_BODY:
                return None
            since, before = self._body_since
            elapsed = self.loop.time() - since
            return (self.bytes_in - before) / elapsed if elapsed >= limits.body_grace else None

        def _shed_one(self) -> bool:
            """Close the oldest other connection still waiting for its headers, else the slowest one sending
            its body under the rate floor; False when there is neither."""
            others = [
                c
                for c in self.connections
                if c is not self and isinstance(c, GuardedH11Protocol) and not c.transport.is_closing()
            ]
            idle = [c for c in others if c._waiting_for_headers()]
            if idle:
                min(idle, key=lambda c: c.opened_at).transport.close()
                return True
            slow = [(rate, c) for c in others if (rate := c._body_rate()) is not None and rate < limits.min_body_rate]
            if slow:
                rate, victim = min(slow, key=lambda pair: pair[0])
                log.warning(
                    "connection cap of %d reached: closing a body sender at %.0f bytes/s", limits.max_connections, rate
                )
                victim.transport.close()
                return True
            log.warning("connection cap of %d reached with every connection busy: refusing one", limits.max_connections)
            return False

        def data_received(self, data: bytes) -> None:
            self.bytes_in += len(data)
            super().data_received(data)

        def _arm_header_deadline(self) -> None:
            self._disarm_header_deadline()
            self._header_deadline = self.loop.call_later(limits.header_timeout, self._header_deadline_passed)

        def _disarm_header_deadline(self) -> None:
            if self._header_deadline is not None:
                self._header_deadline.cancel()
                self._header_deadline = None

        def _header_deadline_passed(self) -> None:
            self._header_deadline = None
            if self._waiting_for_headers() and not self.transport.is_closing():
                self.transport.close()

        def handle_events(self) -> None:
            super().handle_events()
            if not self._waiting_for_headers():
                self._disarm_header_deadline()
                if self._body_since is None:
                    self._body_since = (self.loop.time(), self.bytes_in)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._body_since = None
            if not self.transport.is_closing():
                self._arm_header_deadline()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_deadline()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            """uvicorn answers a request h11 cannot parse (a bad request line, a missing or repeated Host, a bad
            Content-Length, a NUL in a header, headers over h11's size limit) in plain text; here it is the
            service's JSON error, with h11's own reason and status hint, and the connection closed. It is
            called inside uvicorn's `except h11.RemoteProtocolError`, so the error is the one being handled."""
            error = sys.exc_info()[1]
            status = getattr(error, "error_status_hint", 400) or 400
            reason = str(error) if error is not None and str(error) else msg
            if status == 431:
                reason = f"the request line and headers are over the limit of {H11_MAX_HEAD} bytes ({reason})"
            body = json.dumps(error_body(status, f"invalid HTTP request: {reason}", None)).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            phrase = HTTPStatus(status).phrase.encode() if status in HTTPStatus._value2member_map_ else b""
            try:
                self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers, reason=phrase)))
                self.transport.write(self.conn.send(h11.Data(data=body)))
                self.transport.write(self.conn.send(h11.EndOfMessage()))
            except h11.LocalProtocolError:  # the response had already begun: nothing more can be said
                pass
            self.transport.close()

    return GuardedH11Protocol

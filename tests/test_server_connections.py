"""Connection limits of `rankwise serve` against slow and idle clients, on a real process."""

from __future__ import annotations

import select
import socket

import httpx
import pytest

from rankwise.errors import InputError
from rankwise.server.connections import ConnectionLimits
from server_helpers import cli_server


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    log = tmp_path_factory.mktemp("conn") / "server.log"
    with cli_server(
        "--model",
        "minilm-embed",
        "--max-connections",
        "30",
        "--header-timeout",
        "2",
        "--body-timeout",
        "3",
        log_path=log,
    ) as (base, process):
        yield base


def _open_slow_connections(base: str, count: int) -> list[socket.socket]:
    host, port = base.removeprefix("http://").split(":")
    sockets = []
    for _ in range(count):
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        sockets.append(s)
    return sockets


def _closed_by_server(s: socket.socket, wait: float) -> bool:
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_health_answers_while_idle_connections_exceed_the_cap(strict):
    sockets = _open_slow_connections(strict, 120)
    try:
        for _ in range(5):  # each probe gets in by evicting the oldest header-less connection
            assert httpx.get(f"{strict}/health", timeout=10).status_code == 200
        shed = sum(_closed_by_server(s, 0.05) for s in sockets[:80])
        assert shed >= 80 - 30, "the oldest idle connections should have been closed to respect the cap"
    finally:
        for s in sockets:
            s.close()


def test_health_answers_while_slow_bodies_hold_every_connection_slot(strict):
    """Issue 25 item 2: every slot held by a body trickling at a few bytes/s (headers complete, so the
    header-less eviction cannot help); a probe past the cap evicts the slowest of them and is answered."""
    import time

    host, port = strict.removeprefix("http://").split(":")
    sockets = []
    try:
        for _ in range(40):  # past the cap of 30: the last ones are refused while none is known to be slow
            s = socket.create_connection((host, int(port)))
            s.sendall(
                b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            sockets.append(s)
        time.sleep(1.3)  # past the 1 s grace, inside the 3 s body timeout: each sends at about 1 byte/s
        for _ in range(5):
            assert httpx.get(f"{strict}/health", timeout=2).status_code == 200
        # ten refused at the cap, and at least one evicted for the first probe (each probe's slot is free
        # again once it is answered)
        assert sum(_closed_by_server(s, 0.05) for s in sockets) >= 10 + 1
    finally:
        for s in sockets:
            s.close()


def test_unfinished_headers_are_closed_after_the_header_timeout(strict):
    (s,) = _open_slow_connections(strict, 1)
    try:
        assert not _closed_by_server(s, 0.5)  # within the deadline it is left alone
        assert _closed_by_server(s, 10)
    finally:
        s.close()


def test_a_trickling_body_gets_408_naming_the_timeout(strict):
    host, port = strict.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        s.sendall(
            b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        for byte in b'"query": "q", "documents": ["a"]':  # a byte every 0.5 s: the 3 s deadline passes first
            if select.select([s], [], [], 0.5)[0]:  # the server has answered (or closed)
                break
            s.sendall(bytes([byte]))
        s.settimeout(15)
        response = b""
        while b"request_id" not in response and (chunk := s.recv(4096)):
            response += chunk
    assert response.startswith(b"HTTP/1.1 408"), response[:200]
    assert b"not received within 3 s" in response


def test_invalid_limits_are_refused_with_a_clear_error():
    with pytest.raises(InputError, match="max_connections must be at least 1"):
        ConnectionLimits(max_connections=0)
    with pytest.raises(InputError, match="timeouts must be positive"):
        ConnectionLimits(header_timeout=0)


@pytest.mark.slow  # 20 s of slow bodies; the idle-connection cap test stays in the default run
def test_health_answers_while_bodies_above_the_rate_floor_hold_the_connections():
    """Issue 37 item 2: 1,010 connections each sending a 10 MB body at 1,500 B/s (above the rate floor, so
    none could be evicted) held every slot and /health answered 0 of 14 probes. Now at most
    `--max-body-senders` bodies arrive at once; the others are answered 503 from their headers and closed,
    so the connection slots stay free. Here: a cap of 30 connections, 8 senders, 40 uploads at ~1,500 B/s."""
    import threading
    import time

    with cli_server(
        "--model", "minilm-embed", "--max-connections", "30", "--max-body-senders", "8", "--body-timeout", "30"
    ) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        stop = threading.Event()
        outcomes: list[bytes | None] = []  # what each upload got back: a response, b"" (closed), None (still sending)

        def upload() -> None:
            with socket.create_connection((host, int(port))) as s:
                s.sendall(
                    b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 10000000\r\n\r\n{"query": "q", "documents": ["'
                )
                while not stop.is_set():
                    if select.select([s], [], [], 0)[0]:  # answered, or closed
                        try:
                            outcomes.append(s.recv(200))
                        except OSError:
                            outcomes.append(b"")
                        return
                    try:
                        s.sendall(b"a" * 750)
                    except OSError:
                        outcomes.append(b"")
                        return
                    time.sleep(0.5)
                outcomes.append(None)

        threads = [threading.Thread(target=upload, daemon=True) for _ in range(40)]
        try:
            for thread in threads:
                thread.start()
            time.sleep(2)
            answered = sum(httpx.get(f"{base}/health", timeout=3).status_code == 200 for _ in range(14))
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
    assert answered == 14
    assert sum(o is None for o in outcomes) <= 8, "more bodies were let in than --max-body-senders"
    refused = [o for o in outcomes if o]
    assert refused and all(o.startswith(b"HTTP/1.1 503") for o in refused)


def test_the_installed_uvicorn_has_what_the_guarded_protocol_overrides():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    from rankwise.server.connections import check_uvicorn_compatible

    check_uvicorn_compatible(H11Protocol)  # the installed one: no error

    class Changed:  # a uvicorn whose h11 protocol lost a method the subclass overrides
        def connection_made(self): ...

    with pytest.raises(InputError, match="changed its h11 protocol .*send_400_response.* missing"):
        check_uvicorn_compatible(Changed)

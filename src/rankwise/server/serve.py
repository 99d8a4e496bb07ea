"""Running the app under uvicorn with graceful shutdown: on SIGINT/SIGTERM the service first drains
(new requests get 503, in-flight ones finish) for `drain_seconds`, then uvicorn stops."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from fastapi import FastAPI

from rankwise.errors import InputError, ModelNotAvailableError
from rankwise.server.connections import ConnectionLimits, ensure_descriptor_room, guarded_h11_protocol


def read_api_keys(path: str | Path | None) -> frozenset[str]:
    """Keys from a file and from $RANKWISE_API_KEYS (comma-separated). In the file: one key per line; blank
    lines and comments are skipped, a comment being `#` at the start of a line (after any indentation) or
    after whitespace (`sk-abc  # CI`). A bearer token holds no whitespace, so a line with text left on
    both sides of a space is refused rather than guessed at."""
    keys = set()
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise InputError(f"cannot read API key file: {e.strerror}", source=str(path)) from None
        except UnicodeDecodeError:
            raise InputError("API key file is not UTF-8 text", source=str(path)) from None
        for number, line in enumerate(lines, start=1):
            key = re.split(r"(?:^|\s)#", line.strip(), maxsplit=1)[0].strip()
            if not key:
                continue
            if len(key.split()) > 1:
                raise InputError(
                    "a key cannot contain whitespace (one key per line; comments start with #)",
                    source=str(path),
                    line=number,
                )
            keys.add(key)
        if not keys:
            raise InputError("API key file holds no key", source=str(path))
    keys |= {k.strip() for k in os.environ.get("RANKWISE_API_KEYS", "").split(",") if k.strip()}
    return frozenset(keys)


def run(
    app: FastAPI,
    host: str,
    port: int,
    drain_seconds: float = 2.0,
    log_level: str = "info",
    limits: ConnectionLimits | None = None,
    shutdown_grace: float = 30.0,
) -> None:
    """Serve until SIGINT/SIGTERM. Then: `drain_seconds` of 503s to new requests while in-flight ones go on;
    then no new connections, and in-flight requests get `shutdown_grace` more seconds; any still running then
    is answered a JSON 503 (retry) and its work cancelled, so no request ends in a plain-text 500. A second
    signal skips straight to that."""
    import dataclasses

    import uvicorn

    limits = limits or ConnectionLimits()
    limits = dataclasses.replace(limits, max_connections=ensure_descriptor_room(limits.max_connections))
    service = app.state.service

    def later(seconds: float, action) -> None:
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig, frame):  # called from the signal handler
            if service.draining:
                service.stop_answering()
                return super().handle_exit(sig, frame)
            service.draining = True
            stop_listening = super().handle_exit

            def stop() -> None:
                stop_listening(sig, frame)
                later(shutdown_grace, service.stop_answering)

            later(drain_seconds, stop)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=int(shutdown_grace) + 10,
        http=guarded_h11_protocol(limits),
        backlog=min(2048, limits.max_connections),
    )
    server = DrainingServer(config)

    def stop_after_load_failure() -> None:  # no point listening: /ready would answer 503 forever
        server.should_exit = True

    service.on_load_failure = stop_after_load_failure
    server.run()
    if app.state.service.load_error:
        raise ModelNotAvailableError(
            f"the model failed to load, so the service stopped: {app.state.service.load_error}"
        )

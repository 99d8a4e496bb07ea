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
                raise InputError("a key cannot contain whitespace (one key per line; comments start with #)",
                                 source=str(path), line=number)
            keys.add(key)
        if not keys:
            raise InputError("API key file holds no key", source=str(path))
    keys |= {k.strip() for k in os.environ.get("RANKWISE_API_KEYS", "").split(",") if k.strip()}
    return frozenset(keys)


def run(app: FastAPI, host: str, port: int, drain_seconds: float = 2.0, log_level: str = "info",
        limits: ConnectionLimits | None = None) -> None:
    import dataclasses

    import uvicorn

    limits = limits or ConnectionLimits()
    limits = dataclasses.replace(limits, max_connections=ensure_descriptor_room(limits.max_connections))

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig, frame):  # called from the signal handler
            if app.state.service.draining:
                return super().handle_exit(sig, frame)
            app.state.service.draining = True
            threading.Timer(drain_seconds, super().handle_exit, args=(sig, frame)).start()

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30,
                            http=guarded_h11_protocol(limits), backlog=min(2048, limits.max_connections))
    server = DrainingServer(config)

    def stop_after_load_failure() -> None:  # no point listening: /ready would answer 503 forever
        server.should_exit = True

    app.state.service.on_load_failure = stop_after_load_failure
    server.run()
    if app.state.service.load_error:
        raise ModelNotAvailableError(f"the model failed to load, so the service stopped: "
                                     f"{app.state.service.load_error}")

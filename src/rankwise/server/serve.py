"""Running the app under uvicorn with graceful shutdown: on SIGINT/SIGTERM the service first drains
(new requests get 503, in-flight ones finish) for `drain_seconds`, then uvicorn stops."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fastapi import FastAPI

from rankwise.errors import InputError
from rankwise.server.connections import ConnectionLimits, ensure_descriptor_room, guarded_h11_protocol


def read_api_keys(path: str | Path | None) -> frozenset[str]:
    """Keys from a file (one per line, # comments) and from $RANKWISE_API_KEYS (comma-separated)."""
    keys = set()
    if path is not None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as e:
            raise InputError(f"cannot read API key file: {e.strerror}", source=str(path)) from None
        keys |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
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
            if app.state.runtime["draining"]:
                return super().handle_exit(sig, frame)
            app.state.runtime["draining"] = True
            threading.Timer(drain_seconds, super().handle_exit, args=(sig, frame)).start()

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30,
                            http=guarded_h11_protocol(limits), backlog=min(2048, limits.max_connections))
    DrainingServer(config).run()

"""Do slow body senders lock probes out? `rankwise serve` with its default connection cap (1000): `--senders`
connections send complete headers and then a body at 1 byte/s, while `/health` is probed once a second for
`--seconds`: probes answered and the worst probe latency (issue 25, item 2).

    python benchmarks/serve_slow_bodies.py --senders 1010 --seconds 15
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--senders", type=int, default=1010)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    import httpx
    from server_helpers import cli_server

    with cli_server("--model", args.model, "--body-timeout", "120") as (base, _process):
        host, port = base.removeprefix("http://").split(":")
        senders = []
        for _ in range(args.senders):
            try:
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100000\r\n\r\n{")
                senders.append(s)
            except OSError:
                pass
        answered, probes, worst = 0, 0, 0.0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            for s in senders:  # one more byte each: 1 byte/s
                try:
                    s.send(b" ")
                except OSError:
                    pass
            start = time.perf_counter()
            probes += 1
            try:
                answered += httpx.get(f"{base}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                pass
            worst = max(worst, time.perf_counter() - start)
            time.sleep(max(0.0, 1.0 - (time.perf_counter() - start)))
        open_senders = sum(1 for s in senders if _open(s))
        for s in senders:
            s.close()
    print("| slow body senders | probes answered | worst probe s | senders still open at the end |")
    print("|---|---|---|---|")
    print(f"| {len(senders)} | {answered} of {probes} | {worst:.2f} | {open_senders} |")


def _open(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()

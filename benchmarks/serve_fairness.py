"""Fair scheduling of `rankwise serve`: the latency of a 2-document request alone, and while a large request
(1,000 documents of about 1,500 characters) is being scored; then the large request abandoned by its
client after 2 s, and how much of it the server still scored.

    python benchmarks/serve_fairness.py [--model minilm-embed] [--repeats 5]

Only 127.0.0.1 is contacted; the server is started and stopped here."""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import free_port, wait_ready  # noqa: E402

SMALL = {"query": "how long do fleas live", "documents": ["Adult fleas live two to three months.", "Bread."]}


def big_body(count: int) -> dict:
    text = "Fleas are wingless insects that feed on the blood of mammals and birds. " * 20
    return {"query": "how long do fleas live", "documents": [f"{i} {text}" for i in range(count)]}


def small_latency(base: str) -> float:
    start = time.perf_counter()
    response = httpx.post(f"{base}/v1/rerank", json=SMALL, timeout=300)
    response.raise_for_status()
    return time.perf_counter() - start


def pairs_scored(base: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    match = re.search(r"^rankwise_batch_pairs_sum ([0-9.e+]+)", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big", type=int, default=1000)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "rankwise.cli", "serve", "--model", args.model, "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    console = Console(width=160)
    try:
        wait_ready(base)
        small_latency(base)  # warm up
        alone = statistics.median(small_latency(base) for _ in range(args.repeats))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            start = time.perf_counter()
            big = pool.submit(httpx.post, f"{base}/v1/rerank", json=big_body(args.big), timeout=600)
            time.sleep(1.0)
            during = [small_latency(base) for _ in range(args.repeats)]
            big.result().raise_for_status()
            big_seconds = time.perf_counter() - start
        before = pairs_scored(base)
        try:
            httpx.post(f"{base}/v1/rerank", json=big_body(args.big), timeout=2.0)
        except httpx.ReadTimeout:
            pass
        time.sleep(3.0)
        abandoned = pairs_scored(base) - before
    finally:
        server.terminate()
        server.wait(timeout=60)
    table = Table(title=f"{args.model}: a 2-document request vs one of {args.big} documents")
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row("small request alone, median s", f"{alone:.3f}")
    table.add_row("small request during the large one, median s", f"{statistics.median(during):.3f}")
    table.add_row("small request during the large one, max s", f"{max(during):.3f}")
    table.add_row("large request, s", f"{big_seconds:.1f}")
    table.add_row(f"pairs scored for a large request abandoned after 2 s (of {args.big})", f"{abandoned:.0f}")
    console.print(table)


if __name__ == "__main__":
    main()

"""Load test of `rankwise serve` on loopback: 1, 4 and 16 concurrent clients sending 20-document
Cohere-style requests, each level for a bounded time and request count, with and without micro-batching.

    python benchmarks/serve_load.py [--model minilm-embed] [--seconds 60] [--levels 1,4,16]
                                    [--max-requests 5000] [--json out.json]
    python benchmarks/serve_load.py --threads default,1,2 --cpu-load 0,2 --levels 1,8,16 --seconds 30

`--threads` compares torch thread counts instead (the server's defaults otherwise; "default" passes no
--threads), and `--cpu-load N,...` repeats every configuration while N busy processes compete for the
cores, as other jobs on a shared machine do.

"with batching": pairs of concurrent requests are scored together (up to 320 pairs, 5 ms wait).
"one request per batch": each model call scores exactly one request's 20 pairs (max batch 20, no wait).
`--infinity PATH/TO/infinity_emb` adds infinity-emb serving the same model directory under the same load
(its /rerank is Cohere-aligned; it needs a cross-encoder, so give --model a sequence-classification folder).
Only 127.0.0.1 is ever contacted; every loop stops by itself."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
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

WORDS = ("flea cat dog pet lifespan months year host egg larva pupa cocoon carpet vacuum treatment "
         "bread flour water market antique harbour record tick disease").split()


def documents(seed: int, count: int = 20) -> list[str]:
    return [" ".join(WORDS[(seed * 7 + i * 3 + j) % len(WORDS)] for j in range(40)) for i in range(count)]


async def client(url: str, model: str, stop_at: float, budget: list[int], latencies: list[float], errors: list[int],
                 seed: int):
    async with httpx.AsyncClient(timeout=60) as http:
        i = 0
        while time.monotonic() < stop_at and budget[0] > 0:
            budget[0] -= 1
            body = {"model": model, "query": "how long do fleas live", "documents": documents(seed * 1000 + i),
                    "return_documents": False}
            start = time.perf_counter()
            try:
                response = await http.post(url, json=body)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start) if ok else errors.append(1)
            i += 1


async def level(url: str, model: str, concurrency: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    budget = [max_requests]
    start = time.monotonic()
    await asyncio.gather(*(client(url, model, start + seconds, budget, latencies, errors, c)
                           for c in range(concurrency)))
    elapsed = time.monotonic() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {"concurrency": concurrency, "requests": len(latencies), "errors": len(errors),
            "rps": len(latencies) / elapsed, "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
            "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan")}


def serve(model: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "rankwise.cli", "serve", "--model", model, "--port", str(port),
                                "--drain-seconds", "0", *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_ready(base)
    return process, f"{base}/v1/rerank"


def onnx_folder(model: str) -> Path:
    """A scratch copy of the model folder with the fp32 ONNX graph rankwise's own onnx backend runs (infinity's
    optimum engine needs an .onnx file in the folder; the hub's cross-encoders ship one, a trained one does not)."""
    import shutil
    import tempfile

    from rankwise.backends.onnx_runtime import exported_graph
    from rankwise.backends.registry import locate

    folder = Path(tempfile.mkdtemp(prefix="infinity-onnx-")) / "model"
    shutil.copytree(model, folder)
    shutil.copy(exported_graph(locate(model, None), "classifier", None), folder / "model.onnx")
    return folder


def serve_infinity(executable: str, model: str, engine: str = "torch") -> tuple[subprocess.Popen, str]:
    port = free_port()
    # infinity 0.0.78 hands optimum the .onnx file's absolute path, which optimum refuses for a local folder;
    # run from inside the folder with model id "." so that the path it hands on is "model.onnx".
    folder, model_id = (onnx_folder(model), ".") if engine == "optimum" else (None, model)
    process = subprocess.Popen([executable, "v2", "--model-id", model_id, "--served-model-name", model,
                                "--port", str(port), "--host", "127.0.0.1",
                                "--engine", engine, "--device", "cpu", "--batch-size", "64", "--no-bettertransformer"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder,
                               env={**__import__("os").environ, "INFINITY_ANONYMOUS_USAGE_STATS": "0", "HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, f"{base}/rerank"
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"infinity_emb exited with {process.returncode} before it was ready")
        time.sleep(0.5)
    process.kill()
    raise TimeoutError("infinity_emb not ready after 300 s")


def same_request_scores(url: str, model: str) -> list[float]:
    """The relevance scores of one fixed request, by document index: every config must give the same ones."""
    body = {"model": model, "query": "how long do fleas live", "documents": documents(7), "return_documents": False}
    results = httpx.post(url, json=body, timeout=120).json()["results"]
    return [r["relevance_score"] for r in sorted(results, key=lambda r: r["index"])]


def busy_processes(count: int) -> list[subprocess.Popen]:
    """`count` processes that each hold one core until killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--levels", default="1,4,16")
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--json", default=None)
    parser.add_argument("--infinity", default=None, help="path to an infinity_emb executable to compare against")
    parser.add_argument("--infinity-engines", default="torch,optimum", help="infinity's engines to run (--infinity)")
    parser.add_argument("--backends", default="", help="rankwise backends to add with batching, e.g. onnx,openvino")
    parser.add_argument("--configs", default=None, help="comma-separated config names to run (default: all)")
    parser.add_argument("--threads", default=None, help="compare thread counts, e.g. default,1,2")
    parser.add_argument("--cpu-load", default="0", help="busy competing processes, e.g. 0,2")
    args = parser.parse_args()
    configs = {"with batching": lambda: serve(args.model, ["--max-batch-pairs", "320", "--max-wait-ms", "5",
                                                             "--batch-size", "64"]),
               "one request per batch": lambda: serve(args.model, ["--max-batch-pairs", "20", "--max-wait-ms", "0",
                                                                    "--batch-size", "64"])}
    for backend in filter(None, args.backends.split(",")):
        configs[f"batching {backend}"] = lambda backend=backend: serve(
            args.model, ["--max-batch-pairs", "320", "--max-wait-ms", "5", "--batch-size", "64", "-O",
                         f"backend={backend}"])
    if args.infinity:
        for engine in args.infinity_engines.split(","):
            configs[f"infinity-emb {engine}"] = lambda engine=engine: serve_infinity(args.infinity, args.model, engine)
    if args.configs:
        configs = {name: start for name, start in configs.items() if name in args.configs.split(",")}
    if args.threads:
        configs = {f"threads {t}": (lambda t=t: serve(args.model, [] if t == "default" else ["--threads", t]))
                   for t in args.threads.split(",")}
    baseline_config = "threads default" if args.threads else "one request per batch"
    rows = []
    scores: dict[str, list[float]] = {}
    console = Console(width=160)
    for load in (int(n) for n in args.cpu_load.split(",")):
        for name, start in configs.items():
            try:
                process, url = start()
            except (RuntimeError, TimeoutError) as e:
                console.print(f"{name}: not run ({e})")
                continue
            competing = busy_processes(load)
            try:
                scores[name] = same_request_scores(url, args.model)
                asyncio.run(level(url, args.model, 2, 3, 50))  # warm-up
                for concurrency in (int(c) for c in args.levels.split(",")):
                    row = asyncio.run(level(url, args.model, concurrency, args.seconds, args.max_requests))
                    row["config"], row["cpu_load"] = name, load
                    rows.append(row)
                    console.print(f"{name}, {load} busy: {concurrency} clients -> {row['rps']:.1f} req/s")
            finally:
                for busy in competing:
                    busy.kill()
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
    table = Table(title=f"rankwise serve --model {args.model}: 20 documents per request, {args.seconds:.0f} s per level")
    for c in ("config", "busy procs", "clients", "requests", "errors", "req/s", "docs/s", "p50 ms", "p95 ms",
              "p99 ms", f"vs. {baseline_config}", "vs. best infinity"):
        table.add_column(c, justify="left" if c == "config" else "right")
    baseline = {(r["cpu_load"], r["concurrency"]): r["rps"] for r in rows if r["config"] == baseline_config}
    infinity: dict[tuple, float] = {}
    for r in rows:
        if r["config"].startswith("infinity"):
            at = (r["cpu_load"], r["concurrency"])
            infinity[at] = max(infinity.get(at, 0.0), r["rps"])
    for r in rows:
        base = baseline.get((r["cpu_load"], r["concurrency"]))
        speedup = r["rps"] / base if r["config"] != baseline_config and base else None
        table.add_row(r["config"], str(r["cpu_load"]), str(r["concurrency"]), str(r["requests"]), str(r["errors"]),
                      f"{r['rps']:.1f}", f"{20 * r['rps']:.0f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}",
                      f"{r['p99_ms']:.0f}", f"{speedup:.2f}x" if speedup else "-",
                      f"{r['rps'] / best:.2f}x" if (best := infinity.get((r["cpu_load"], r["concurrency"])))
                      and not r["config"].startswith("infinity") else "-")
    console.print(table)
    reference = next(iter(scores.values()), None)
    for name, values in scores.items():
        gap = max(abs(a - b) for a, b in zip(values, reference or values))
        console.print(f"{name}: relevance_score of one 20-document request, max |difference| from the first config "
                      f"{gap:.2e}", highlight=False)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""Is the service's event loop free while a CPU-heavy request is prepared? One request of `--documents`
documents of `--chars` characters with `max_tokens_per_doc` (tokenizing every document), while `/health` is
probed every 50 ms: the request's seconds and the worst /health latency (issue 25, item 5).

    python benchmarks/serve_event_loop.py --documents 1000 --chars 32000
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-embed")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--chars", type=int, default=32000)
    parser.add_argument("--max-tokens-per-doc", type=int, default=10)
    args = parser.parse_args()
    import httpx
    from server_helpers import threaded_server

    from rankwise import Reranker
    from rankwise.server import ServerSettings, create_app

    reranker = Reranker.load(args.model)
    docs = [("flea " * (args.chars // 5 + 1))[: args.chars] for _ in range(args.documents)]
    settings = ServerSettings(model_name=args.model, request_timeout=600)
    with threaded_server(create_app(reranker, settings)) as base:
        worst, stop = [0.0], threading.Event()

        def probe() -> None:
            while not stop.is_set():
                start = time.perf_counter()
                httpx.get(f"{base}/health", timeout=120)
                worst[0] = max(worst[0], time.perf_counter() - start)
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        start = time.perf_counter()
        answer = httpx.post(f"{base}/v1/rerank", timeout=600, json={
            "query": "fleas", "documents": docs, "max_tokens_per_doc": args.max_tokens_per_doc,
            "return_documents": False})
        seconds = time.perf_counter() - start
        stop.set()
        prober.join()
    print("| model | documents x chars | status | request s | worst /health s |")
    print("|---|---|---|---|---|")
    print(f"| {args.model} | {args.documents} x {args.chars} | {answer.status_code} | {seconds:.2f} | {worst[0]:.3f} |")


if __name__ == "__main__":
    main()

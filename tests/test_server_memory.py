"""Issue 37's resource class: one request's memory is bounded at the default limits. A fresh `rankwise serve`
gets the largest adversarial body of each shape the limits allow (and the ones just past them), and its
peak RSS (VmHWM) may not grow past the bound the serving guide documents for one request."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from server_helpers import cli_server

DOCUMENTED_BOUND_MIB = (
    1024  # docs/guides/serving.md, per-request bounds: one request at the default limits stays under 1 GiB
)


def peak_rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def shapes() -> dict[str, tuple[bytes, dict[str, str], int]]:
    """name -> (body, extra headers, expected status)."""
    cap_texts = ["flea " * 6553 + "f"] * 1000  # 1,000 documents of 32,766 characters: the body cap's worth
    metadata = [{"text": "a", "metadata": {"v": [{} for _ in range(990)]}} for _ in range(100)]  # 99,403 values
    astral = ["\U0001f9a0" * 8192] * 1000  # 4-byte characters: the widest strings the cap allows
    zeros = b",".join([b"0"] * 16_500_000)
    return {
        "1000 documents at the character cap": (
            json.dumps({"query": "fleas", "documents": cap_texts}).encode(),
            {},
            200,
        ),
        "99,403 JSON values": (json.dumps({"query": "fleas", "documents": metadata}).encode(), {}, 200),
        "astral characters": (
            json.dumps({"query": "fleas", "documents": astral}, ensure_ascii=False).encode(),
            {},
            200,
        ),
        "16.5 million zeros": (
            b'{"query": "q", "documents": [{"text": "a", "metadata": {"a": [' + zeros + b"]}}]}",
            {},
            413,
        ),
        "gzip at the cap": (
            gzip.compress(json.dumps({"query": "fleas", "documents": cap_texts}).encode()),
            {"Content-Encoding": "gzip"},
            200,
        ),
        "nesting 64 deep": (
            b'{"query": "q", "documents": [{"text": "a", "metadata": ' + b"[" * 59 + b"]" * 59 + b"}]}",
            {},
            422,
        ),
    }


@pytest.mark.slow
def test_one_request_of_each_adversarial_shape_stays_under_the_documented_memory_bound(tmp_path):
    with cli_server("--model", "minilm-embed", log_path=tmp_path / "server.log") as (base, process):
        httpx.post(f"{base}/v1/rerank", json={"query": "warm up", "documents": ["a", "b"]}, timeout=60)
        baseline = peak_rss_mib(process.pid)
        growth = {}
        for name, (body, headers, status) in shapes().items():
            answer = httpx.post(
                f"{base}/v1/rerank", content=body, timeout=600, headers={"Content-Type": "application/json", **headers}
            )
            assert answer.status_code == status, (name, answer.text[:300])
            growth[name] = peak_rss_mib(process.pid) - baseline
        print(json.dumps({"baseline_mib": baseline, "peak_growth_mib": growth}, indent=1))
    assert max(growth.values()) < DOCUMENTED_BOUND_MIB, growth

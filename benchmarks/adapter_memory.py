"""Memory and speed of serving N LoRA adapters over one base (`serve --adapter NAME=DIR`, issue 41) against
loading N merged copies, each measured in a fresh process:

- `base`: the base model alone (llm-pointwise);
- `unmerged N`: the base with N adapters attached unmerged (runtime option `adapters`), requests switching
  adapter every time (what the server does per group of a micro-batch);
- `merged xN`: N separate copies of the base, each with one adapter merged in (what serving N fine-tunes
  costs without adapter serving).

Adapters are random LoRA weights (r=8 on q, k, v, o; seeded), written under --work. Resident memory is read
after loading and after scoring; the time is per request of 20 passages, switching adapter each request.

    python benchmarks/adapter_memory.py --model smollm2-135m --adapters 1,4,16 --merged 1,4
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUERY = "how do fleas jump so far"
PASSAGES = [f"Passage {i}: fleas jump with a pad of resilin; bread is baked from flour number {i}." for i in range(20)]


def make_adapters(model: str, work: Path, count: int) -> list[str]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from rankwise.models.resolve import resolve_model

    folders = []
    for i in range(count):
        folder = work / f"adapter-{i:02d}"
        if not (folder / "adapter_config.json").is_file():
            torch.manual_seed(i + 1)
            base = AutoModelForCausalLM.from_pretrained(resolve_model(model).path)
            config = LoraConfig(
                r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], init_lora_weights=False
            )
            get_peft_model(base, config).save_pretrained(str(folder))
        folders.append(str(folder))
    return folders


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(model: str, mode: str, folders: list[str], requests: int) -> dict:
    """In this process: load as `mode` says, score `requests` requests, report memory and time."""
    import resource

    from rankwise import Reranker

    start = time.perf_counter()
    if mode == "base":
        rerankers = [Reranker.load(model, method="llm-pointwise", threads=2)]
    elif mode == "unmerged":
        adapters = {f"a{i}": folder for i, folder in enumerate(folders)}
        rerankers = [Reranker.load(model, method="llm-pointwise", adapters=adapters, threads=2)]
    else:
        rerankers = [Reranker.load(model, method="llm-pointwise", adapter=folder, threads=2) for folder in folders]
    load_seconds = time.perf_counter() - start
    after_load = resident_mb()
    start = time.perf_counter()
    for i in range(requests):
        reranker = rerankers[i % len(rerankers)]
        if mode == "unmerged" and reranker.adapters is not None:
            reranker.adapters.use_adapter(f"a{i % len(folders)}")
        reranker.rerank(QUERY, PASSAGES)
    seconds = (time.perf_counter() - start) / requests
    return {
        "load_s": load_seconds,
        "rss_after_load_mb": after_load,
        "rss_after_scoring_mb": resident_mb(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "s_per_request": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--adapters", default="1,4,16", help="adapter counts to serve unmerged")
    parser.add_argument("--merged", default="1,4", help="merged copies to load side by side")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rankwise-adapter-memory"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "adapter_memory.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one configuration in this process
    arguments = parser.parse_args()
    if arguments.one:
        mode, count = arguments.one.split(":")
        folders = make_adapters(arguments.model, arguments.work, int(count)) if int(count) else []
        print(json.dumps(measure(arguments.model, mode, folders, arguments.requests)))
        return
    arguments.work.mkdir(parents=True, exist_ok=True)
    counts = [int(n) for n in arguments.adapters.split(",") if n]
    merged = [int(n) for n in arguments.merged.split(",") if n]
    make_adapters(arguments.model, arguments.work, max(counts + merged))
    plan = [("base", 0)] + [("unmerged", n) for n in counts] + [("merged", n) for n in merged]
    rows = []
    for mode, count in plan:
        command = [sys.executable, __file__, "--model", arguments.model, "--work", str(arguments.work)]
        command += ["--requests", str(arguments.requests), "--one", f"{mode}:{count}"]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        row = {"mode": mode, "adapters": count, **json.loads(done.stdout.strip().splitlines()[-1])}
        rows.append(row)
        label = "base" if mode == "base" else f"{mode} x{count}"
        print(
            f"{label:<14} load {row['load_s']:6.1f} s  RSS {row['rss_after_load_mb']:7.0f} MB after load, "
            f"{row['rss_after_scoring_mb']:7.0f} MB after scoring, peak {row['peak_rss_mb']:7.0f} MB  "
            f"{row['s_per_request']:6.3f} s/request of {len(PASSAGES)} passages",
            flush=True,
        )
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps({"model": arguments.model, "rows": rows}, indent=1) + "\n", encoding="utf-8")
    print(f"written {arguments.out}")


if __name__ == "__main__":
    main()

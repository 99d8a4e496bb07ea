"""FIRST vs. generation for listwise reranking on TREC DL, with the cost floor and achieved FLOP rate.

    python benchmarks/listwise.py --dataset dl19 --models qwen2.5-coder-0.5b [--settings top20,top100]
        [--queries N] [--int8] [--json out.json] [--plot out.png]

Settings: `top20` reranks BM25's top 20 as one window per query; `top100` reranks the top 100 with
20-passage windows and stride 10. For each model (one process per model, loaded once and shared by
both decodings) it prints nDCG@10, seconds per query, prompt and generated tokens per query, how many
identifiers generation emitted per window, the generation/FIRST time ratio, FIRST's time against the
floor (the same prompts through one bare forward pass), and GFLOP/s against a large fp32 matmul in
the same process. `--int8` adds FIRST on torch dynamic int8 quantization (CPU)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dataset_dir, in_fresh_process, peak_rss_mib  # noqa: E402

SETTINGS = {"top20": dict(top_k=20, window=20, stride=10), "top100": dict(top_k=100, window=20, stride=10)}


def forward_floor(lm, sequences) -> None:
    """The bare cost floor of a transformers CausalLM: the same batched, left-padded forward passes as its
    FIRST scoring, last-position logits only, nothing read."""
    import torch

    with torch.inference_mode():
        for batch in lm._batches(sequences):
            input_ids, mask, positions = lm._left_padded([sequences[i] for i in batch])
            lm.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                     use_cache=False)


def matmul_peak_gflops(n: int = 2048, repeats: int = 8) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        torch.matmul(a, b)
    return 2 * n ** 3 * repeats / (time.perf_counter() - start) / 1e9


def forward_flops(model, lengths: list[int]) -> float:
    """2 * (decoder matmul parameters) per token, plus causal attention scores and mixing, per sequence."""
    import torch

    config = model.config
    decoder = sum(m.weight.numel() for name, m in model.named_modules()
                  if isinstance(m, torch.nn.Linear) and "lm_head" not in name)
    layers, hidden = config.num_hidden_layers, config.hidden_size
    return sum(2 * decoder * t + 2 * layers * t * t * hidden for t in lengths) + 2 * hidden * config.vocab_size * len(lengths)


def run_model(model_name: str, candidates: str, qrels_path: str, settings: list[str], queries: int | None,
              int8: bool) -> dict[str, Any]:
    from rankwise.backends.causal_lm import CausalLM
    from rankwise.backends.options import TransformersOptions
    from rankwise.io import read_candidates, read_qrels
    from rankwise.models import resolve_model
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.pipelines.rerank import rerank_requests
    from rankwise.rerankers.listwise.llm import FirstReranker, ListwiseGenerateReranker
    from rankwise.types import Ranking

    requests = read_candidates(candidates)[:queries]
    qrels = read_qrels(qrels_path)
    location = resolve_model(model_name)
    start = time.perf_counter()
    lm = CausalLM(location, TransformersOptions(batch_size=1))
    load_seconds = time.perf_counter() - start
    peak = matmul_peak_gflops()
    rows = []

    def measure(label: str, reranker, setting: str) -> dict[str, Any]:
        captured: list[list[int]] = []
        original = reranker.lm.first_token_logprobs

        def capturing(sequences, *args, **kwargs):
            captured.extend(list(s) for s in sequences)
            return original(sequences, *args, **kwargs)

        reranker.lm.first_token_logprobs = capturing
        reranker.lm.stats.clear()
        report = rerank_requests(reranker, requests, top_k=SETTINGS[setting]["top_k"], queries_per_batch=1)
        reranker.lm.first_token_logprobs = original
        stats = dict(reranker.lm.stats)
        windows = [w for r in report.rankings for w in r.trace["windows"]]
        n = len(report.rankings)
        row = {
            "model": model_name, "setting": setting, "mode": label, "queries": n,
            "ndcg@10": evaluate(run_from_rankings(report.rankings), qrels, ["nDCG@10"])["nDCG@10"],
            "seconds_per_query": report.seconds_per_query,
            "prompt_tokens_per_query": stats.get("prompt_tokens", 0) / n,
            "generated_tokens_per_query": stats.get("generated_tokens", 0) / n,
            "windows_per_query": len(windows) / n,
            "generate_calls": stats.get("generate_calls", 0),
            "forward_passes": stats.get("forward_passes", 0),
            "single_token_steps": stats.get("single_token_steps", 0),
        }
        if "identifiers_emitted" in windows[0]:
            row["identifiers_emitted_per_window"] = sum(w["identifiers_emitted"] for w in windows) / len(windows)
            row["window_size"] = sum(len(w["docids"]) for w in windows) / len(windows)
        if captured:
            start = time.perf_counter()
            forward_floor(reranker.lm, captured)
            floor = (time.perf_counter() - start) / n
            row["floor_seconds_per_query"] = floor
            row["gflops_per_second"] = forward_flops(reranker.lm.model, [len(s) for s in captured]) / n / floor / 1e9 \
                if not reranker.lm.options.quantize else None
        return row

    first_stage = evaluate(run_from_rankings(Ranking.first_stage(r) for r in requests),
                           qrels, ["nDCG@10"])["nDCG@10"]
    for setting in settings:
        shape = SETTINGS[setting]
        first = FirstReranker.build(lm, model_name, **shape)
        generate = ListwiseGenerateReranker.build(lm, model_name, **shape)
        rows.append(measure("first", first, setting))
        rows.append(measure("generate", generate, setting))
    if int8:
        quantized = CausalLM(location, TransformersOptions(batch_size=1, quantize="int8"))
        for setting in settings[:1]:
            rows.append(measure("first-int8", FirstReranker.build(quantized, model_name, **SETTINGS[setting]), setting))
    for row in rows:
        row["first_stage_ndcg@10"] = first_stage
    return {"rows": rows, "peak_gflops": peak, "load_seconds": load_seconds, "peak_rss_mib": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--models", default="qwen2.5-coder-0.5b")
    parser.add_argument("--settings", default="top20,top100")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--int8", action="store_true")
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()
    data = dataset_dir(args.dataset)
    settings = [s for s in args.settings.split(",") if s]
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        sys.exit(f"unknown settings {sorted(unknown)}; choose from {sorted(SETTINGS)}")
    console = Console(width=220)
    rows, machine = [], {}
    for model in args.models.split(","):
        console.print(f"running {model} on {args.queries or 'all'} queries, settings {settings} ...")
        result = in_fresh_process(run_model, model, str(data / "bm25_top100.json"), str(data / "qrels.txt"),
                                  settings, args.queries, args.int8)
        machine[model] = {k: result[k] for k in ("peak_gflops", "load_seconds", "peak_rss_mib")}
        for row in result["rows"]:
            row["peak_gflops"] = result["peak_gflops"]
        rows.extend(result["rows"])
        print_table(console, rows, machine)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "machine": machine}, indent=2))
    if args.plot:
        plot(rows, args.plot)


def print_table(console: Console, rows: list[dict], machine: dict) -> None:
    table = Table(title="listwise reranking on BM25 candidates: FIRST vs. generation")
    columns = ["model", "setting", "mode", "queries", "nDCG@10", "BM25 same q.", "s/query", "prompt tok/q", "gen tok/q",
               "ids emitted/window", "gen/FIRST time", "floor s/q", "FIRST/floor", "GFLOP/s", "% of peak"]
    for c in columns:
        table.add_column(c, justify="left" if c in ("model", "setting", "mode") else "right")
    by_key = {(r["model"], r["setting"], r["mode"]): r for r in rows}
    for r in rows:
        first = by_key.get((r["model"], r["setting"], "first"))
        ratio = r["seconds_per_query"] / first["seconds_per_query"] if r["mode"] == "generate" and first else None
        floor = r.get("floor_seconds_per_query")
        gflops = r.get("gflops_per_second")
        emitted = r.get("identifiers_emitted_per_window")
        table.add_row(
            r["model"], r["setting"], r["mode"], str(r["queries"]), f"{r['ndcg@10']:.4f}",
            f"{r['first_stage_ndcg@10']:.4f}",
            f"{r['seconds_per_query']:.2f}", f"{r['prompt_tokens_per_query']:.0f}",
            f"{r['generated_tokens_per_query']:.0f}",
            f"{emitted:.1f} of {r['window_size']:.0f}" if emitted is not None else "-",
            f"{ratio:.2f}x" if ratio else "-",
            f"{floor:.2f}" if floor else "-",
            f"{r['seconds_per_query'] / floor:.3f}" if floor else "-",
            f"{gflops:.1f}" if gflops else "-",
            f"{100 * gflops / r['peak_gflops']:.0f}%" if gflops else "-",
        )
    console.print(table)
    for model, m in machine.items():
        console.print(f"{model}: fp32 matmul peak {m['peak_gflops']:.1f} GFLOP/s, load {m['load_seconds']:.1f} s, "
                      f"peak RSS {m['peak_rss_mib']:.0f} MiB")


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"first": "o", "generate": "s", "first-int8": "D"}
    for r in rows:
        ax.scatter(r["seconds_per_query"], r["ndcg@10"], marker=markers.get(r["mode"], "x"),
                   facecolor="black" if r["setting"] == "top100" else "white", edgecolor="black", s=60)
        ax.annotate(f"{r['model'].split('-')[-1]} {r['setting']} {r['mode']}", (r["seconds_per_query"], r["ndcg@10"]),
                    fontsize=6, xytext=(4, 4), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("seconds per query (log scale, 2-core CPU)")
    ax.set_ylabel("nDCG@10")
    ax.grid(True, linestyle=":", color="lightgray")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

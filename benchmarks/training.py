"""Trained rerankers against the MiniLM bi-encoder on TREC DL 2019 (never trained or tuned on), side by side.

    python benchmarks/training.py [--queries N] [--first-adapter out/first/adapter] [--plot out.png]

For each first stage (BM25 and SPLADE++ top-100) every configuration runs in its own process (so its
peak memory is its own) and is compared with the zero-shot MiniLM bi-encoder on the same queries: nDCG@10
(ir-measures), paired randomization-test p-value (scipy, Holm-adjusted across rows), wins/ties/losses,
seconds per query, docs/s and peak RSS. Training facts (parameters trained, data, steps, wall time,
DL 2021 cross-validated nDCG@10) come from each model's `training.json`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cost_quality_axis, dataset_dir, in_fresh_process, rerank_config  # noqa: E402

BASELINE = "MiniLM bi-encoder (zero-shot)"
FIRST_BASELINE = "FIRST zero-shot (top-20)"
CONFIGS = [
    # label, model, method, options. Older rows (embedding PRF, minilm-fusion-dl21, MaxSim without feedback)
    # are in earlier closing notes; fewer rows keep the Holm adjustment meaningful.
    (BASELINE, "minilm-embed", "embedding", {}),
    ("MiniLM MaxSim + feedback (zero-shot)", "minilm-embed", "maxsim", {}),
    ("minilm-maxsim-fusion-dl21 (shipped)", "minilm-maxsim-fusion-dl21", "fusion", {}),
    ("minilm-maxsim-lora (shipped; MaxSim + feedback)", "minilm-maxsim-lora", "maxsim", {}),
    ("minilm-maxsim-lora on ONNX int8", "minilm-maxsim-lora", "maxsim", {"backend": "onnx", "quantize": "int8"}),
]


def training_facts(model: str) -> dict:
    from rankwise.models import resolve_model

    location = resolve_model(model)
    folder = Path(location.adapter or location.path)  # an adapter model's record sits with the adapter
    record = folder / "training.json"
    return json.loads(record.read_text()) if record.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--first-stages", default="bm25,splade_pp_ed")
    parser.add_argument("--first-adapter", default=None,
                        help="also compare FIRST on SmolLM2 zero-shot vs with this LoRA adapter (top-20 windows)")
    parser.add_argument("--first-queries", type=int, default=None)
    parser.add_argument("--first-model", default="smollm2-135m", help="the causal LM the adapter was trained on")
    parser.add_argument("--first-only", action="store_true", help="only the FIRST rows (zero-shot vs adapter)")
    parser.add_argument("--extra", action="append", default=[],
                        help="another row, METHOD:PATH (e.g. embedding-prf:ft/model from `rankwise train bi-encoder`)")
    parser.add_argument("--plot", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from rankwise.io import read_qrels

    data = dataset_dir(args.dataset)
    qrels = read_qrels(data / "qrels.txt")
    console = Console(width=200)
    first_configs = []
    if args.first_adapter:
        first = {"window": 10, "stride": 5, "top_k": 20, "max_words": 40}
        first_configs = [(FIRST_BASELINE, args.first_model, "first", first),
                         (f"FIRST {args.first_model} + LoRA (top-20)", args.first_model, "first",
                          {**first, "adapter": args.first_adapter})]
    configs = [] if args.first_only else CONFIGS + [(f"{extra} (--extra)", *reversed(extra.split(":", 1)), {})
                                                    for extra in args.extra]
    rows = []
    for first_stage in args.first_stages.split(","):
        candidates = data / f"{first_stage}_top100.json"
        if configs:
            rows += compare(console, configs, BASELINE, candidates, qrels, first_stage, args.queries)
        if first_configs and first_stage == "bm25":  # FIRST is compared with itself zero-shot, same windows
            rows += compare(console, first_configs, FIRST_BASELINE, candidates, qrels, first_stage,
                            args.first_queries)
    facts = {label: training_facts(model) for label, model, method, _ in configs if model != "minilm-embed"}
    print_table(console, rows, facts)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "training": facts}, indent=2))
    if args.plot:
        plot(rows, args.plot)
        console.print(f"plot written to {args.plot}")


def compare(console: Console, configs: list, baseline: str, candidates: Path, qrels, first_stage: str,
            queries: int | None) -> list[dict]:
    """Run each configuration in its own process on the same queries and test each against `baseline`."""
    from rankwise.io import read_candidates
    from rankwise.pipelines.evaluate import compare_runs, run_from_rankings
    from rankwise.types import Ranking

    requests = read_candidates(candidates)[:queries]
    runs = {first_stage: run_from_rankings(Ranking.first_stage(r) for r in requests)}
    costs = {}
    for label, model, method, options in configs:
        console.print(f"[{first_stage}] {label} on {len(requests)} queries ...")
        result = in_fresh_process(rerank_config, model, method, str(candidates), queries,
                                  options.get("top_k", 100), options)
        runs[label], costs[label] = result["run"], result
    comparison = compare_runs(runs, qrels, baseline=baseline, test_measure="nDCG@10")
    return [{"first_stage": first_stage, "label": r.label, "queries": len(comparison.queries),
             "ndcg@10": r.means["nDCG@10"], "baseline": baseline, "p_randomization": r.p_randomization,
             "p_randomization_holm": r.p_randomization_holm, "wins_ties_losses": r.wins_ties_losses,
             "per_query_ndcg@10": r.per_query["nDCG@10"],
             **{k: costs.get(r.label, {}).get(k) for k in ("seconds_per_query", "docs_per_second", "peak_rss_mib")}}
            for r in comparison.runs]


def _fmt(value, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def print_table(console: Console, rows: list[dict], facts: dict[str, dict]) -> None:
    table = Table(title="trained rerankers on TREC DL 2019; baselines: the MiniLM bi-encoder, and FIRST zero-shot "
                        "for the FIRST rows")
    for column in ("first stage", "reranker", "queries", "nDCG@10", "p vs baseline", "p (Holm)", "W/T/L",
                   "s/query", "docs/s", "peak MiB"):
        table.add_column(column, justify="left" if column in ("first stage", "reranker") else "right")
    for r in rows:
        wtl = "/".join(map(str, r["wins_ties_losses"])) if r["wins_ties_losses"] else "-"
        table.add_row(r["first_stage"], r["label"], str(r["queries"]), f"{r['ndcg@10']:.4f}",
                      _fmt(r["p_randomization"], "{:.4f}"), _fmt(r["p_randomization_holm"], "{:.4f}"), wtl,
                      _fmt(r["seconds_per_query"], "{:.2f}"),
                      _fmt(r["docs_per_second"], "{:.1f}"), _fmt(r["peak_rss_mib"], "{:.0f}"))
    console.print(table)
    for label, record in facts.items():
        if record:
            console.print(f"{label}: " + ", ".join(f"{k}={record[k]}" for k in (
                "collections", "held_out", "first_stages", "queries", "examples", "steps", "parameters_trained",
                "seconds", "cv_ndcg@10") if k in record))


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = sorted({r["first_stage"] for r in rows})
    fig, axes = plt.subplots(1, len(stages), figsize=(6.5 * len(stages), 5.2), squeeze=False)
    for axis, stage in zip(axes[0], stages):
        own = [r for r in rows if r["first_stage"] == stage]
        points = [(r["label"], r["seconds_per_query"], r["ndcg@10"]) for r in own
                  if r["seconds_per_query"] is not None]
        base = next(r for r in own if r["seconds_per_query"] is None and r["baseline"] == BASELINE)
        cost_quality_axis(axis, points, base["ndcg@10"], f"{stage} alone")
        axis.set_title(f"DL 2019, {stage} top-100")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

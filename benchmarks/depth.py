"""Does quality fall with reranking depth? ("Drowning in Documents", Jacob et al., 2024, found that cross-
encoders reranking deeper BM25 lists can lose nDCG.) Every reranker that costs under 2 s/query at depth 100
reranks BM25's top k for k in 10, 20, 50, 100 on DL 2019 and DL 2021, side by side in one run; the table
gives nDCG@10 per depth and the PNG plots it against k.

    python benchmarks/depth.py [--datasets dl19,dl21] [--queries N] [--out out/depth]
    python benchmarks/depth.py --datasets dl19 --only "minilm cross-encoder,qwen0.5b llm-pointwise" --budget 60

The seed paper's claim is about cross-encoders: the `minilm cross-encoder` row is all-MiniLM-L6-v2 fine-tuned
as a cross-encoder on DL 2021 (`rankwise train cross-encoder --train dl21 --held-out dl19`, 1 epoch), read from
--cross-encoder or trained into OUT/cross-encoder-dl21 when absent; the LLM pointwise rows are SmolLM2-135M
and Qwen2.5-Coder-0.5B (llama.cpp) P(yes). `--budget` raises the per-query time limit to keep slow rows.

Passage vectors come from a forward index built first over the collections' candidate pools (the same
scores as encoding on the fly, in float32), so the encoder methods share one encoding. LLM methods are
timed on the first queries at depth 100 and left out, with their time, when over the budget. The fusion
models were trained on DL 2021, so their DL 2021 column is in-sample (marked)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bm25_requests  # noqa: E402

DEPTHS = (10, 20, 50, 100)
# (label, model, method, reads the forward index, trained on DL 2021)
RERANKERS = [
    ("embedding", "minilm-embed", "embedding", True, False),
    ("embedding-prf", "minilm-embed", "embedding-prf", True, False),
    ("e2rank", "minilm-embed", "e2rank", True, False),
    ("maxsim", "minilm-embed", "maxsim", True, False),
    ("fast-forward", "minilm-embed", "fast-forward", True, False),
    ("minilm-fusion-dl21", "minilm-fusion-dl21", None, True, True),
    ("minilm-maxsim-fusion-dl21", "minilm-maxsim-fusion-dl21", None, True, True),
    ("minilm-maxsim-lora", "minilm-maxsim-lora", None, False, True),
    ("smollm2 llm-pointwise", "smollm2-135m", "llm-pointwise", False, False),
    ("smollm2 query-likelihood", "smollm2-135m", "query-likelihood", False, False),
    ("minilm cross-encoder", "CROSS_ENCODER", "cross-encoder", False, True),
    ("qwen0.5b llm-pointwise", "qwen2.5-coder-0.5b", "llm-pointwise", False, False),
]
RUNTIME = {"qwen0.5b llm-pointwise": {"backend": "llama.cpp"}}
BUDGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="dl19,dl21")
    parser.add_argument("--queries", type=int, default=None, help="first N queries of each collection")
    parser.add_argument("--probe", type=int, default=3, help="queries timed at depth 100 before a full run")
    parser.add_argument("--out", default="out/depth")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds per query at depth 100")
    parser.add_argument("--only", default=None, help="comma-separated row labels to run (default: all)")
    parser.add_argument(
        "--cross-encoder",
        type=Path,
        default=Path.home() / ".cache" / "rankwise" / "judge_pools" / "cross-encoder-dl21" / "model",
        help="a MiniLM cross-encoder trained on DL 2021 (judge_pools.py train writes one); trained when absent",
    )
    args = parser.parse_args()
    from rankwise import Reranker
    from rankwise.io.forward_index import ForwardIndex
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.pipelines.index import build_forward_index
    from rankwise.types import Request

    out = Path(args.out)
    datasets = args.datasets.split(",")
    loaded = {name: bm25_requests(name, args.queries) for name in datasets}
    pool = list({c.docid: c for _, _, requests, _ in loaded.values() for r in requests for c in r.candidates}.values())
    index = out / "forward"
    if not (index / "manifest.json").exists() or not ForwardIndex(index).complete:
        start = time.perf_counter()
        build_forward_index(pool, index, "minilm-embed", token_vectors=True, resume=index.exists())
        print(f"forward index over {len(pool)} passages built in {time.perf_counter() - start:.0f} s")

    in_sample_labels = {entry[0] for entry in RERANKERS if entry[4]}
    results: dict[tuple[str, str], dict[int, float]] = {}
    costs: dict[str, float] = {}
    skipped: list[str] = []
    only = set(args.only.split(",")) if args.only else None
    for label, model, method, reads_index, in_sample in RERANKERS:
        if only is not None and label not in only:
            continue
        options = {"index": str(index)} if reads_index else {}
        options.update(RUNTIME.get(label, {}))
        if model == "CROSS_ENCODER":
            model = str(cross_encoder(args.cross_encoder, out))
        try:
            reranker = Reranker.load(model, method=method, **options)
        except Exception as error:  # a model this machine lacks (e.g. the LoRA before its recipe ran)
            skipped.append(f"{label}: not loadable here ({error})")
            continue
        probe = loaded[datasets[0]][2][: args.probe]
        reranker.rerank_batch(probe[:1])  # warm-up
        start = time.perf_counter()
        reranker.rerank_batch(probe)
        per_query = (time.perf_counter() - start) / len(probe)
        if per_query > args.budget:
            skipped.append(f"{label}: {per_query:.1f} s/query at depth 100, over the {args.budget:.0f} s budget")
            continue
        costs[label] = per_query
        for name in datasets:
            _, qrels, requests, _ = loaded[name]
            shown = label + (" *" if in_sample and name == "dl21" else "")
            for k in DEPTHS:
                heads = [Request(r.query, r.candidates[:k]) for r in requests]
                ndcg = evaluate(run_from_rankings(reranker.rerank_batch(heads)), qrels)["nDCG@10"]
                results.setdefault((label, name), {})[k] = ndcg
            print(
                f"{shown} on {name}: " + ", ".join(f"k={k} {v:.4f}" for k, v in results[(label, name)].items()),
                flush=True,
            )

    table = Table(title="nDCG@10 against reranking depth k (BM25 top k reranked; * trained on DL 2021)")
    table.add_column("reranker")
    table.add_column("s/query @100", justify="right")
    for name in datasets:
        for k in DEPTHS:
            table.add_column(f"{name} k={k}", justify="right")
    for label in costs:
        row = [label + (" *" if label in in_sample_labels else ""), f"{costs[label]:.3f}"]
        for name in datasets:
            found = results.get((label, name), {})
            row += [f"{found[k]:.4f}" if k in found else "-" for k in DEPTHS]
        table.add_row(*row)
    table.add_row("BM25 (no reranking)", "-", *[f"{loaded[name][3]:.4f}" for name in datasets for _ in DEPTHS])
    Console(width=200).print(table)
    for line in skipped:
        print("left out:", line)
    plot(results, {name: loaded[name][3] for name in datasets}, datasets, out / "depth.png")


def cross_encoder(given: Path, out: Path) -> Path:
    """The MiniLM cross-encoder trained on DL 2021: `given` when it holds one, else trained into OUT."""
    if (given / "training.json").exists():
        return given
    import subprocess

    trained = out / "cross-encoder-dl21"
    if not (trained / "model" / "training.json").exists():
        data = Path(__file__).resolve().parents[2] / "shared" / "data"
        command = [sys.executable, "-m", "rankwise.cli.main", "train", "cross-encoder", "--train", str(data / "dl21")]
        command += ["--held-out", str(data / "dl19"), "--out", str(trained), "-O", "epochs=1"]
        print("$ " + " ".join(command[2:]), flush=True)
        subprocess.run(command, check=True)
    return trained / "model"


def plot(
    results: dict[tuple[str, str], dict[int, float]], bm25: dict[str, float], datasets: list[str], path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4.5), squeeze=False)
    for axis, name in zip(axes[0], datasets):
        for (label, dataset), by_depth in results.items():
            if dataset == name:
                axis.plot(list(by_depth), list(by_depth.values()), marker="o", label=label)
        axis.axhline(bm25[name], color="grey", linestyle="--", label="BM25")
        axis.set_xscale("log")
        axis.set_xticks(DEPTHS, [str(k) for k in DEPTHS])
        axis.set_xlabel("reranking depth k (BM25 top k)")
        axis.set_ylabel("nDCG@10")
        axis.set_title(name)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""LLM judgments standing in for TREC's (issue 39), measured two ways on collections whose real qrels are
known, which the judge never sees:

1. `tau`: five rerankers (BM25, a bi-encoder, zero-shot MaxSim, the shipped fusion model, FIRST on an LLM)
   rerank DL 2019; the union of their top 10 per query is judged by the LLM; each system's nDCG@10 is
   computed under the TREC qrels and under the LLM's, and Kendall's tau compares the two system orderings
   (UMBRELA's validation), with `rankwise judge agree`.
2. `train`: DL 2021's BM25 depth-10 pool is judged by the LLM; a cross-encoder is fine-tuned and a
   calibration fitted on those LLM labels only and, beside it, on DL 2021's real labels; both are evaluated
   on DL 2019 with its real qrels (never trained on).

Every stage resumes: the systems' runs and the judgments (the judge's own resumable files) are kept under
benchmarks/results/judge_pools/ (committed; the qrels are regenerated from the judgments), trained models
and calibrations under --work.

    python benchmarks/judge_pools.py tau --judge qwen2.5-coder-0.5b --preset umbrela --threads 2
    python benchmarks/judge_pools.py train --judge qwen2.5-coder-0.5b --preset umbrela --threads 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "judge_pools"
SYSTEMS = {
    "minilm-embed": ("minilm-embed", None, {}),
    "maxsim": ("minilm-embed", "maxsim", {}),
    "fusion": ("minilm-maxsim-fusion-dl21", None, {}),
    "first-qwen0.5b": ("qwen2.5-coder-0.5b", "first", {"backend": "llama.cpp", "window": 10, "stride": 5, "top_k": 20}),
}


def rankwise(*arguments: str) -> str:
    command = [sys.executable, "-m", "rankwise.cli.main", *arguments]
    print("$ rankwise " + " ".join(arguments), flush=True)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return done.stdout


def system_runs(dataset: Path, folder: Path, threads: int) -> list[Path]:
    """Each system's run over the dataset's BM25 top 100 (BM25's own order first), kept once written. A
    system reranks through the resumable batch job (`pipelines/batch.py`), two queries per shard under
    `folder/NAME.shards/`, so a killed run (an LLM's takes hours here) continues from its last finished
    shard; the shards become `NAME.trec` when all are done."""
    import shutil

    from rankwise.io import read_candidates, write_run
    from rankwise.pipelines.batch import run_batch, run_files
    from rankwise.rerankers.compose.spec import RerankerSpec
    from rankwise.types import Ranking

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "bm25.trec"]
    if not paths[0].exists():
        write_run([Ranking.first_stage(r) for r in read_candidates(dataset / "bm25_top100.json")], paths[0], tag="bm25")
    for name, (model, method, options) in SYSTEMS.items():
        path = folder / f"{name}.trec"
        paths.append(path)
        if path.exists():
            continue
        print(f"reranking with {name}", flush=True)
        shards = folder / f"{name}.shards"
        spec = RerankerSpec(model, method, {"threads": threads, **options})
        run_batch(spec, dataset / "bm25_top100.json", shards, shard_queries=2, top_k=100, tag=name)
        path.write_text("".join(p.read_text(encoding="utf-8") for p in run_files(shards)), encoding="utf-8")
        shutil.rmtree(shards)
    return paths


def judge_pool(dataset: Path, runs: list[Path], out: Path, judge: str, preset: str, threads: int, depth: int) -> Path:
    arguments = ["judge", "-m", judge, "--input", str(dataset / "bm25_top100.json"), "--out", str(out)]
    arguments += ["--preset", preset, "--depth", str(depth), "--backend", "llama.cpp", "--threads", str(threads)]
    for run in runs:
        arguments += ["--pool", str(run)]
    print(rankwise(*arguments))
    return out / "qrels.txt"


def tau(args: argparse.Namespace) -> None:
    dataset = DATA / "dl19"
    runs = system_runs(dataset, RESULTS / "dl19-runs", args.threads)  # small, kept with the judgments
    out = RESULTS / f"dl19-{args.judge}-{args.preset}"
    qrels = judge_pool(dataset, runs, out, args.judge, args.preset, args.threads, args.depth)
    arguments = [
        "judge",
        "agree",
        str(qrels),
        str(dataset / "qrels.txt"),
        "--plot",
        str(RESULTS / f"tau-{args.judge}-{args.preset}.png"),
    ]
    for run in runs:
        arguments += ["--run", str(run)]
    report = rankwise(*arguments)
    (RESULTS / f"tau-{args.judge}-{args.preset}.txt").write_text(report, encoding="utf-8")
    print(report)


def train(args: argparse.Namespace) -> None:
    """Cross-encoders (and calibrations) from DL 2021's LLM labels and from its real ones, on DL 2019."""
    real = DATA / "dl21"
    out = RESULTS / f"dl21-{args.judge}-{args.preset}"
    first_stage = RESULTS / "dl21-runs" / "bm25.trec"
    if not first_stage.exists():
        system_runs_bm25_only(real, first_stage)
    qrels = judge_pool(real, [first_stage], out, args.judge, args.preset, args.threads, args.depth)
    llm = args.work / "dl21-llm"  # DL 2021 with the LLM's qrels in place of the real ones
    llm.mkdir(parents=True, exist_ok=True)
    for item in real.iterdir():
        link = llm / item.name
        if item.name != "qrels.txt" and not link.exists():
            link.symlink_to(item.resolve())
    (llm / "qrels.txt").write_text(qrels.read_text(encoding="utf-8"), encoding="utf-8")
    rows = []
    for label, collection in (("LLM labels", llm), ("real labels", real)):
        model_dir = args.work / f"cross-encoder-{collection.name}"
        if not (model_dir / "model" / "training.json").exists():
            rankwise(
                "train",
                "cross-encoder",
                "--train",
                str(collection),
                "--held-out",
                str(DATA / "dl19"),
                "--out",
                str(model_dir),
                "-O",
                f"epochs={args.epochs}",
            )
        calibration = args.work / f"calibration-{collection.name}.json"
        if not calibration.exists():
            rankwise(
                "calibrate",
                "-m",
                str(model_dir / "model"),
                "--collection",
                str(collection),
                "--held-out",
                str(DATA / "dl19"),
                "--out",
                str(calibration),
                "--top-k",
                "30",
            )
        bench = rankwise(
            "bench",
            "--dataset",
            str(DATA / "dl19"),
            "--rerankers",
            str(model_dir / "model"),
            "--out-dir",
            str(args.work / f"bench-{collection.name}"),
            "--top-k",
            "100",
        )
        rows.append((label, bench))
        rows.append(
            (label + ", its calibration on DL 2019's real labels", calibration_check(model_dir / "model", calibration))
        )
    report = "\n\n".join(f"## trained on DL 2021 {label}\n{text}" for label, text in rows)
    (RESULTS / f"train-{args.judge}-{args.preset}.txt").write_text(report, encoding="utf-8")
    print(report)


def calibration_check(model: Path, calibration: Path) -> str:
    """ECE, Brier score and log loss on DL 2019's real labels (top 30 of BM25) of a calibration fitted on
    DL 2021 (its LLM or its real labels)."""
    from rankwise import Reranker
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.calibrate import calibration_metrics

    reranker = Reranker.load(str(model), calibration=str(calibration))
    qrels = read_qrels(DATA / "dl19" / "qrels.txt")
    requests = [r for r in read_candidates(DATA / "dl19" / "bm25_top100.json") if r.query.qid in qrels]
    probabilities, labels = [], []
    for request in requests:
        head = type(request)(request.query, request.candidates[:30])
        for result in reranker.rerank_batch([head])[0]:
            probabilities.append(result.probability)
            labels.append(int(qrels[request.query.qid].get(result.docid, 0) >= 2))
    return json.dumps(calibration_metrics(probabilities, labels), indent=2)


def system_runs_bm25_only(dataset: Path, path: Path) -> None:
    from rankwise.io import read_candidates, write_run
    from rankwise.types import Ranking

    path.parent.mkdir(parents=True, exist_ok=True)
    write_run([Ranking.first_stage(r) for r in read_candidates(dataset / "bm25_top100.json")], path, tag="bm25")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("tau", "train"))
    parser.add_argument("--judge", default="qwen2.5-coder-0.5b")
    parser.add_argument("--preset", default="umbrela")
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "rankwise" / "judge_pools")
    args = parser.parse_args()
    if not (DATA / "dl19").is_dir():
        raise SystemExit(f"the test collections are absent ({DATA}); this benchmark reads ../shared/data")
    RESULTS.mkdir(parents=True, exist_ok=True)
    {"tau": tau, "train": train}[args.stage](args)


if __name__ == "__main__":
    main()

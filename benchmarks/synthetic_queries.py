"""What synthetic queries add to late-interaction training, measured by query-level cross-validation on
TREC DL 2021 (DL 2019 is held out and never read).

    python benchmarks/synthetic_queries.py --synthetic data/synthetic/dl22-qwen2.5-coder-0.5b.jsonl \
        [--folds 0 1] [--work /tmp/synthetic-cv] [-O lr=2e-4 ...]

For each fold, the shipped recipe's LoRA configuration is trained twice on the other DL 2021 folds (grades)
plus DL 2022 (SPLADE++ scores as the teacher): without and with the synthetic queries that pass the round
trip. The fold's queries are then reranked with MaxSim + feedback through the adapter, over BM25 and
SPLADE++ candidates, next to the untrained model. Synthetic queries are written from DL 2022 pools only,
so no held-out DL 2021 passage is a source. Training runs resume from --work when killed."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dataset_dir, peak_rss_mib  # noqa: E402

STAGES = ("bm25", "splade_pp_ed")


def fold_ndcg(adapter: Path | None, folder: Path, qids: set[str]) -> dict[str, float]:
    from rankwise import Reranker
    from rankwise.io import read_candidates
    from rankwise.io.trec import read_qrels
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings

    reranker = Reranker.load("minilm-embed", method="maxsim", **({"adapter": str(adapter)} if adapter else {}))
    qrels = read_qrels(folder / "qrels.txt")
    scores = {}
    for stage in STAGES:
        requests = [r for r in read_candidates(folder / f"{stage}_top100.json") if r.query.qid in qids]
        run = run_from_rankings(reranker.rerank_batch(requests))
        scores[stage] = evaluate(run, qrels, ["nDCG@10"])["nDCG@10"]
    return scores


def main() -> None:
    from rankwise.backends.interface import Capability
    from rankwise.backends.registry import locate, open_backend
    from rankwise.backends.options import TransformersOptions
    from rankwise.cli.common import parse_options
    from rankwise.io.lines import iter_jsonl
    from rankwise.options import validate_options
    from rankwise.pipelines.train.data import HeldOut, build_query_groups, query_folds
    from rankwise.pipelines.train.late_interaction import LateInteractionTrainingConfig, train_late_interaction
    from rankwise.pipelines.train.synthetic import SyntheticQueryConfig, round_trip_groups

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", required=True, help="generated queries (train synthetic-queries --queries)")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--of", type=int, default=4, help="number of folds")
    parser.add_argument("--work", default="/tmp/rankwise-synthetic-cv")
    parser.add_argument("-O", dest="options", action="append", default=[], help="training option KEY=VALUE")
    parser.add_argument("--keep-rank", type=int, default=SyntheticQueryConfig.keep_rank)
    args = parser.parse_args()

    train, unjudged, held = dataset_dir("dl21"), dataset_dir("dl22"), dataset_dir("dl19")
    held_out = HeldOut.from_collections([held])
    judged = build_query_groups([train], held_out=held_out, judged_only_queries=True).groups
    dl22 = build_query_groups([unjudged], held_out=held_out).groups
    encoder = open_backend(locate("minilm-embed", None), TransformersOptions(), frozenset({Capability.TOKEN_EMBED}),
                           "synthetic queries")
    report = round_trip_groups(encoder, dl22, [e for _, e in iter_jsonl(args.synthetic)],
                               SyntheticQueryConfig(keep_rank=args.keep_rank))
    del encoder
    ranks = sorted(report.source_ranks)
    print(f"synthetic: {report.generated} generated, {report.unusable} unusable, {report.rejected} failed the round "
          f"trip, {len(report.groups)} kept; median source rank {ranks[len(ranks) // 2] if ranks else '-'}")

    defaults = {"lora_r": 16, "lr": 2e-4, "epochs": 1.0, "seed": 0}  # the shipped recipe's
    config = validate_options(LateInteractionTrainingConfig, "training", {**defaults, **parse_options(args.options)})
    folds = query_folds([g.qid for g in judged], args.of)
    work = Path(args.work)
    rows = []
    for fold in args.folds:
        held_qids = set(folds[fold])
        base = [g for g in judged if g.qid not in held_qids] + dl22
        rows.append((fold, "untrained MiniLM", None, fold_ndcg(None, train, held_qids)))
        for label, groups in (("LoRA: DL21 grades + DL22 SPLADE++", base),
                              (f"+ {len(report.groups)} synthetic queries", base + report.groups)):
            out = work / f"fold{fold}-{'synthetic' if 'synthetic' in label else 'base'}"
            start = time.perf_counter()
            done = (out / "model" / "adapter_config.json").exists()
            record = json.loads((out / "model" / "training.json").read_text()) if done else asdict(train_late_interaction(
                "minilm-embed", groups, out, config, resume=any((out / "checkpoints").glob("checkpoint-*")),
                held_out=held_out))
            rows.append((fold, label, record, fold_ndcg(out / "model", train, held_qids)))
            print(f"fold {fold} {label}: {rows[-1][3]} ({time.perf_counter() - start:.0f} s)", flush=True)

    table = Table(title=f"DL 2021 folds ({args.of}-fold, seed 0): nDCG@10 of MaxSim + feedback; peak RSS "
                        f"{peak_rss_mib():.0f} MiB")
    for column in ("fold", "training", "steps", "train s", "BM25", "SPLADE++"):
        table.add_column(column)
    for fold, label, record, scores in rows:
        table.add_row(str(fold), label, str(record["steps"]) if record else "-",
                      f"{record['seconds']:.0f}" if record else "-", *(f"{scores[s]:.4f}" for s in STAGES))
    Console().print(table)


if __name__ == "__main__":
    main()

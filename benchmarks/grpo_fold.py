"""GRPO's held-out fold on DL 2021: split the judged queries into a training fold and a held-out fold (every
fourth query by sorted qid), write the training fold as a lists JSONL for `rankwise train grpo --train`, and
measure a reranker on the held-out fold (BM25 top-k, nDCG@10 with ir-measures) with or without an adapter, and
drop the held-out fold's queries from a JSONL of training rows (e.g. mined triples) so a trainer never sees them.

  python grpo_fold.py split --collection ../shared/data/dl21 --out runs/grpo-fold
  rankwise train grpo -m smollm2-135m --train runs/grpo-fold/train.jsonl --held-out ../shared/data/dl19 ...
  python grpo_fold.py evaluate --collection ../shared/data/dl21 --method setwise [--adapter runs/grpo/adapter]
  python grpo_fold.py exclude runs/mined.jsonl --out runs/mined-train-fold.jsonl
  python grpo_fold.py compare cross-encoder:runs/ce-mined/model cross-encoder:runs/ce-mined-noguard/model
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import ir_measures

from rankwise import Reranker
from rankwise.io.collection import Collection
from rankwise.pipelines.train.formats import read_training_data
from rankwise.types import Request


def folds(collection: Path) -> tuple[list, list]:
    groups = sorted((g for g in read_training_data(collection, judged_only_queries=True).groups if g.judged),
                    key=lambda g: g.qid)
    return [g for i, g in enumerate(groups) if i % 4 != 3], [g for i, g in enumerate(groups) if i % 4 == 3]


def split(args: argparse.Namespace) -> None:
    train, held = folds(args.collection)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "train.jsonl", "w", encoding="utf-8") as f:
        for g in train:
            judged = g.judged
            f.write(json.dumps({"qid": g.qid, "query": g.query, "passages": [d.text for d in judged],
                                "labels": [d.grade for d in judged]}) + "\n")
    print(f"{len(train)} training queries in {args.out / 'train.jsonl'}; held-out fold: {len(held)} queries "
          f"({', '.join(g.qid for g in held)})")


def exclude(args: argparse.Namespace) -> None:
    _, held = folds(args.collection)
    held_qids = {g.qid for g in held}
    kept = dropped = 0
    with open(args.rows, encoding="utf-8") as source, open(args.out, "w", encoding="utf-8") as out:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            qid = json.loads(line).get("qid")
            if qid is None:
                raise SystemExit(f"{args.rows}:{number}: no 'qid' field, so the held-out fold cannot be excluded")
            if str(qid) in held_qids:
                dropped += 1
            else:
                out.write(line if line.endswith("\n") else line + "\n")
                kept += 1
    print(f"{kept} rows kept in {args.out}, {dropped} rows of the held-out fold's {len(held)} queries dropped")


def _fold(collection_path: Path) -> tuple[list, dict, dict]:
    _, held = folds(collection_path)
    collection = Collection.open(collection_path)
    # Only the fold's judgments: ir-measures averages over every query of the qrels, a missing one as 0.
    judged = collection.qrels()
    return held, {g.qid: judged[g.qid] for g in held}, {r.query.qid: r for r in collection.candidates("bm25")}


def _rerank_fold(reranker: Reranker, held: list, candidates: dict, top_k: int) -> list:
    run = []
    for group in held:
        request = candidates[group.qid]
        ranking = reranker.rerank_batch([Request(request.query, request.candidates[:top_k])])[0]
        run += [ir_measures.ScoredDoc(group.qid, r.docid, float(len(ranking.results) - i))
                for i, r in enumerate(ranking.results)]
    return run


def evaluate(args: argparse.Namespace) -> None:
    held, qrels, candidates = _fold(args.collection)
    options = {"adapter": str(args.adapter)} if args.adapter else {}
    reranker = Reranker.load(args.model, method=args.method, **options)
    started = time.perf_counter()
    run = _rerank_fold(reranker, held, candidates, args.top_k)
    bm25 = [ir_measures.ScoredDoc(g.qid, c.docid, c.score) for g in held
            for c in candidates[g.qid].candidates[:args.top_k]]
    measure = ir_measures.nDCG @ 10
    value = ir_measures.calc_aggregate([measure], qrels, run)[measure]
    base = ir_measures.calc_aggregate([measure], qrels, bm25)[measure]
    print(f"| {args.method} | {args.adapter or 'base'} | {len(held)} | {base:.4f} | {value:.4f} | "
          f"{(time.perf_counter() - started) / len(held):.1f} |")


def compare(args: argparse.Namespace) -> None:
    """Several rerankers on the held-out fold side by side, each against the first by a paired t-test over
    the fold's queries (scipy), so a difference can be told from the noise of a dozen queries."""
    from scipy.stats import ttest_rel

    held, qrels, candidates = _fold(args.collection)
    measure = ir_measures.nDCG @ 10
    per_query = {}
    for spec in args.rerankers:
        method, _, model = spec.partition(":")
        run = _rerank_fold(Reranker.load(model, method=method), held, candidates, args.top_k)
        values = {m.query_id: m.value for m in ir_measures.iter_calc([measure], qrels, run)}
        per_query[spec] = [values.get(g.qid, 0.0) for g in held]
    bm25 = [ir_measures.ScoredDoc(g.qid, c.docid, c.score) for g in held
            for c in candidates[g.qid].candidates[:args.top_k]]
    print(f"held-out fold: {len(held)} queries, BM25 top {args.top_k} nDCG@10 "
          f"{ir_measures.calc_aggregate([measure], qrels, bm25)[measure]:.4f}")
    print(f"| reranker | nDCG@10 | paired t-test p vs {args.rerankers[0]} |")
    print("|---|---|---|")
    first = per_query[args.rerankers[0]]
    for spec, values in per_query.items():
        p = "-" if values is first else f"{ttest_rel(values, first).pvalue:.3f}"
        print(f"| {spec} | {sum(values) / len(values):.4f} | {p} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("split", "evaluate", "exclude", "compare"):
        sub = commands.add_parser(name)
        sub.add_argument("--collection", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "dl21")
    commands.choices["split"].add_argument("--out", type=Path, required=True)
    commands.choices["exclude"].add_argument("rows", type=Path)
    commands.choices["exclude"].add_argument("--out", type=Path, required=True)
    commands.choices["compare"].add_argument("rerankers", nargs="+", help="METHOD:MODEL, the first the baseline")
    commands.choices["compare"].add_argument("--top-k", type=int, default=10)
    ev = commands.choices["evaluate"]
    ev.add_argument("--model", default="smollm2-135m")
    ev.add_argument("--method", default="setwise")
    ev.add_argument("--adapter", type=Path, default=None)
    ev.add_argument("--top-k", type=int, default=10)
    args = parser.parse_args()
    if not (args.collection / "qrels.txt").exists():
        raise SystemExit(f"{args.collection}: no collection there (see ../shared/data/README)")
    {"split": split, "evaluate": evaluate, "exclude": exclude, "compare": compare}[args.command](args)


if __name__ == "__main__":
    main()

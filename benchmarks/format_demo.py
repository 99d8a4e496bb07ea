"""One tiny end-to-end run per training format: DL 2021 judged queries converted into each format a user may
have (JSONL triples, lists with labels, lists with teacher scores, a BEIR folder, TREC qrels + topics + corpus,
a saved `datasets` folder), each training a MiniLM cross-encoder for a few dozen steps with `--dev` (other DL
2021 queries as a lists file, evaluated during training), and the kept model reranking the dev queries' BM25
top 10 (nDCG@10 with ir-measures). It shows every format reaches the trainer, not that a few steps help.

    cd benchmarks && python format_demo.py [--queries 24 --dev-queries 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import ir_measures

from rankwise import Reranker
from rankwise.io.collection import Collection
from rankwise.pipelines.train.formats import read_training_data
from rankwise.types import Request

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def formats(groups: list, folder: Path) -> dict[str, Path]:
    """The same judged groups in each format."""
    docs = {d.docid: d.text for g in groups for d in g.judged}
    out = {"triples": write_jsonl(folder / "triples.jsonl", [
        {"qid": g.qid, "query": g.query, "positive": {"id": p.docid, "text": p.text},
         "negatives": [{"id": d.docid, "text": d.text} for d in g.judged if d.grade == 0][:8]}
        for g in groups for p in [d for d in g.judged if d.grade >= 2][:4]])}
    out["lists-labels"] = write_jsonl(folder / "lists.jsonl", [
        {"qid": g.qid, "query": g.query, "passages": [{"id": d.docid, "text": d.text} for d in g.judged],
         "labels": [d.grade for d in g.judged]} for g in groups])
    out["lists-scores"] = write_jsonl(folder / "scores.jsonl", [
        {"qid": g.qid, "query": g.query, "passages": [{"id": d.docid, "text": d.text} for d in g.judged],
         "scores": [float(d.grade) + 0.1 * i / len(g.judged) for i, d in enumerate(g.judged)]} for g in groups])
    beir = folder / "beir"
    (beir / "qrels").mkdir(parents=True)
    write_jsonl(beir / "corpus.jsonl", [{"_id": k, "text": v} for k, v in docs.items()])
    write_jsonl(beir / "queries.jsonl", [{"_id": g.qid, "text": g.query} for g in groups])
    (beir / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{g.qid}\t{d.docid}\t{d.grade}\n" for g in groups for d in g.judged))
    out["beir"] = beir
    trec = folder / "trec"
    trec.mkdir()
    write_jsonl(trec / "corpus.jsonl", [{"docid": k, "text": v} for k, v in docs.items()])
    (trec / "topics.tsv").write_text("".join(f"{g.qid}\t{g.query}\n" for g in groups))
    (trec / "qrels.txt").write_text("".join(f"{g.qid} 0 {d.docid} {d.grade}\n" for g in groups for d in g.judged))
    out["trec"] = trec
    try:
        import datasets

        rows = [{"query": g.query, "passages": [d.text for d in g.judged], "labels": [d.grade for d in g.judged]}
                for g in groups]
        datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(folder / "saved"))
        out["datasets"] = folder / "saved"
    except ImportError:
        print("datasets is not installed: the saved-datasets row is skipped")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--collection", type=Path, default=DATA / "dl21")
    parser.add_argument("--queries", type=int, default=24)
    parser.add_argument("--dev-queries", type=int, default=8)
    args = parser.parse_args()
    if not (args.collection / "qrels.txt").exists():
        raise SystemExit(f"{args.collection}: no collection there (see ../shared/data/README)")
    groups = sorted((g for g in read_training_data(args.collection, judged_only_queries=True).groups
                     if len({d.grade for d in g.judged}) > 1), key=lambda g: g.qid)
    train, dev = groups[:args.queries], groups[args.queries:args.queries + args.dev_queries]
    collection = Collection.open(args.collection)
    judged = collection.qrels()
    qrels = {g.qid: judged[g.qid] for g in dev}
    candidates = {r.query.qid: r for r in collection.candidates("bm25")}
    measure = ir_measures.nDCG @ 10
    bm25 = [ir_measures.ScoredDoc(g.qid, c.docid, c.score) for g in dev for c in candidates[g.qid].candidates[:10]]
    print(f"{len(train)} training queries, {len(dev)} dev queries (BM25 top 10 nDCG@10 "
          f"{ir_measures.calc_aggregate([measure], qrels, bm25)[measure]:.4f})")
    print("| format | groups read | steps | dev nDCG@10 during training (step: value) | kept model, dev nDCG@10 | s |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        dev_file = write_jsonl(folder / "dev.jsonl", [
            {"qid": g.qid, "query": g.query, "passages": [{"id": d.docid, "text": d.text} for d in g.judged][:30],
             "labels": [d.grade for d in g.judged][:30]} for g in dev])
        for name, source in formats(train, folder).items():
            out = folder / f"run-{name}"
            started = time.perf_counter()
            command = [sys.executable, "-m", "rankwise.cli", "train", "cross-encoder", "--train", str(source),
                       "--dev", str(dev_file), "--out", str(out), "--eval-steps", "8", "-O", "examples_per_query=4",
                       "-O", "max_seq_length=128", "-O", "checkpoint_steps=8"]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {name} | failed: {done.stdout[-300:]} {done.stderr[-300:]} |")
                continue
            record = json.loads((out / "model" / "training.json").read_text())
            evaluations = record["config"]["dev"]["evaluations"]
            reranker = Reranker.load(str(out / "model"), method="cross-encoder")
            run = []
            for g in dev:
                request = candidates[g.qid]
                ranking = reranker.rerank_batch([Request(request.query, request.candidates[:10])])[0]
                run += [ir_measures.ScoredDoc(g.qid, r.docid, float(10 - i)) for i, r in enumerate(ranking.results)]
            kept = ir_measures.calc_aggregate([measure], qrels, run)[measure]
            during = ", ".join(f"{e['step']}: {e['ndcg@10']:.3f}" for e in evaluations)
            print(f"| {name} | {len(read_training_data(source).groups)} | {record['steps']} | {during} | "
                  f"{kept:.4f} | {time.perf_counter() - started:.0f} |", flush=True)


if __name__ == "__main__":
    main()

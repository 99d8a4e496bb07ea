"""How well small LLM judges agree with the TREC assessors (issue 39): DL 2019 treated as "your data", a
stratified sample of its judged pairs (the same number per grade, seeded), each judged by every (model,
preset) with `rankwise judge`'s own code, the qrels hidden from the judge. Prints Cohen's kappa against the
TREC qrels (graded, quadratic-weighted, binary at grade 2), malformed answers, s/pair and tokens/pair.

Judgments are kept under --out/<model>-<preset>/judgments.jsonl (committed), so a killed run resumes where
it stopped with the same command; the qrels files beside them are rewritten on every run and not committed
(the sample's TREC grades are a copy of ../shared/data).

    python benchmarks/judge.py --pairs 400 --models qwen2.5-coder-0.5b --presets umbrela,graded \\
        --backend llama.cpp --threads 2 --out benchmarks/results/judge
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def stratified_pairs(dataset: Path, per_grade: int, seed: int):
    """(qid, query, docid, text, grade) for `per_grade` judged pairs of each grade whose text a candidate
    file holds."""
    from rankwise.io import read_candidates, read_qrels

    qrels = read_qrels(dataset / "qrels.txt")
    texts, queries = {}, {}
    for path in sorted(dataset.glob("*_top100.json")):
        for request in read_candidates(path):
            queries[request.query.qid] = request.query.text
            for c in request.candidates:
                texts[(request.query.qid, c.docid)] = c.text
    by_grade: dict[int, list] = {}
    for qid, docs in sorted(qrels.items()):
        for docid, grade in sorted(docs.items()):
            if (qid, docid) in texts:
                by_grade.setdefault(min(grade, 3), []).append((qid, queries[qid], docid, texts[(qid, docid)], grade))
    rng = random.Random(seed)
    chosen = []
    for grade in sorted(by_grade):
        pool = by_grade[grade]
        chosen += rng.sample(pool, min(per_grade, len(pool)))
    rng.shuffle(chosen)
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--pairs", type=int, default=400, help="total, split equally over grades 0-3")
    parser.add_argument("--models", default="qwen2.5-coder-0.5b")
    parser.add_argument("--presets", default="umbrela,graded")
    parser.add_argument("--backend", default="llama.cpp")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "judge")
    args = parser.parse_args()

    dataset = DATA / args.dataset
    if not dataset.is_dir():
        sys.exit(f"{dataset} not found: the benchmark reads the shared TREC collections from ../shared/data")
    from rankwise.pipelines.judge.agreement import agreement
    from rankwise.pipelines.judge.llm_judge import Pair, judge_into, open_judge
    from rankwise.pipelines.judge.store import JudgmentStore

    sample = stratified_pairs(dataset, args.pairs // 4, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    truth = args.out / f"{args.dataset}-sample-qrels.txt"  # the TREC grades of the sample, for the agreement
    truth.write_text("".join(f"{q} 0 {d} {g}\n" for q, _, d, _, g in sample))
    pairs = [Pair(q, query, d, text) for q, query, d, text, _ in sample]
    print(f"{len(pairs)} pairs from {args.dataset} (grades: "
          + ", ".join(f"{g}: {sum(1 for s in sample if min(s[4], 3) == g)}" for g in range(4)) + ")")
    rows = []
    for model in args.models.split(","):
        for preset in args.presets.split(","):
            folder = args.out / f"{model}-{preset}"
            store = JudgmentStore(folder)
            judge = open_judge(model, {"backend": args.backend, "threads": args.threads}, preset)
            judge_into(judge, pairs, store, args.batch,
                       lambda n, s=store, m=model, p=preset: print(f"  {m} {p}: {len(s)}/{len(pairs)}", flush=True))
            records = [store.records[(p.qid, p.docid)] for p in pairs]
            result = agreement(folder / "qrels.txt", truth)
            row = {"model": model, "preset": preset, "backend": args.backend, "pairs": result.pairs,
                   "kappa": round(result.kappa, 4), "kappa_weighted": round(result.kappa_weighted, 4),
                   "kappa_binary": round(result.kappa_binary, 4),
                   "malformed": sum(not r["valid"] for r in records),
                   "with_distribution": sum(r["distribution"] is not None for r in records),
                   "s_per_pair": round(sum(r["seconds"] for r in records) / len(records), 2),
                   "tokens_per_pair": round(sum(r["prompt_tokens"] + r["answer_tokens"] for r in records)
                                            / len(records), 1),
                   "confusion": result.confusion}
            rows.append(row)
            _keep_row(args.out / "rows.jsonl", row)
    print("| model | preset | pairs | kappa | weighted | binary | malformed | s/pair | tokens/pair |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['preset']} | {r['pairs']} | {r['kappa']} | {r['kappa_weighted']} | "
              f"{r['kappa_binary']} | {r['malformed']} | {r['s_per_pair']} | {r['tokens_per_pair']} |")


def _keep_row(path: Path, row: dict) -> None:
    """The row replaces an earlier run's for the same judge and prompt (a resumed run re-summarises both)."""
    kept = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    kept = [r for r in kept if (r["model"], r["preset"]) != (row["model"], row["preset"])] + [row]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))


if __name__ == "__main__":
    main()


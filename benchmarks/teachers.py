"""Is a teacher worth distilling? Candidate teachers against the cheap reranker they would teach, on a
training collection's heads.

    python benchmarks/teachers.py --teacher "query-likelihood:qwen2.5-coder-1.5b{backend=llama.cpp}@20" \
        [--teacher ...] [--dataset dl21] [--first-stage bm25] [--head-by maxsim:minilm-embed] [--queries N]

A teacher is `method:model{options}@K`: it scores only the K candidates `--head-by` ranks best (an LLM
teacher costs seconds per passage, and a ranking is decided in its head). Its labels are written with
`rankwise label --head-by` semantics to `benchmarks/out/teachers/` and resumed from there, so a killed
run continues and a finished one is only evaluated. Rows, all nDCG@10 (ir-measures) over the same queries:
the first stage; the head-by reranker alone (the student's level); the head reordered by the teacher;
the head reordered by z(head-by) + z(teacher). Each teacher row has its randomization-test p-value and
wins/ties/losses against the head-by reranker, and the labelling cost per query.

DL 2019 is refused: teachers are chosen on training collections, and DL 2019 is the held-out test."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, dataset_dir  # noqa: E402

HELD_OUT = {"dl19"}
OUT = ROOT / "benchmarks" / "out" / "teachers"


def _z(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def head_orders(selector_scores: dict[str, float], head: list[str], teacher: dict[str, float],
                weight: float | None) -> dict[str, float]:
    """The whole list as a run: the head reordered by the teacher's scores (weight None) or by
    z(selector) + weight * z(teacher), ties in the selector's order; the rest below in the selector's order."""
    by_selector = sorted(selector_scores, key=lambda d: -selector_scores[d])
    head_set = set(head)
    teacher_values = np.array([teacher[d] for d in head], dtype=float)
    if weight is None:
        keys = teacher_values
    else:
        keys = _z(np.array([selector_scores[d] for d in head], dtype=float)) + weight * _z(teacher_values)
    order = sorted(range(len(head)), key=lambda i: (-keys[i], by_selector.index(head[i])))
    ranked = [head[i] for i in order] + [d for d in by_selector if d not in head_set]
    return {d: float(len(ranked) - i) for i, d in enumerate(ranked)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", action="append", required=True, help="method:model{options}@K; repeatable")
    parser.add_argument("--dataset", default="dl21")
    parser.add_argument("--first-stage", default="bm25")
    parser.add_argument("--head-by", default="maxsim:minilm-embed")
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the table as JSON")
    args = parser.parse_args()
    if Path(args.dataset).name in HELD_OUT:
        sys.exit(f"{args.dataset} is held out: teachers are chosen on training collections (dl21, dl22)")

    from rankwise import Reranker
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.evaluate import per_query, run_from_rankings
    from rankwise.pipelines.significance import randomization_test, win_tie_loss
    from rankwise.pipelines.train.teacher import label_with_teacher, read_teacher_labels
    from rankwise.rerankers.registry import METHODS
    from rankwise.rerankers.compose.spec import parse_spec
    from rankwise.types import Ranking

    data = dataset_dir(args.dataset)
    qrels = read_qrels(data / "qrels.txt")
    requests = [r for r in read_candidates(data / f"{args.first_stage}_top100.json") if r.query.qid in qrels]
    requests = requests[:args.queries]
    selector = Reranker.load(args.head_by)
    selector_rankings = selector.rerank_batch(requests)
    selector_run = run_from_rankings(selector_rankings)
    qids = [r.query.qid for r in requests]

    def ndcg(run: dict) -> np.ndarray:
        values = per_query(run, qrels, ["nDCG@10"])["nDCG@10"]
        return np.array([values.get(q, 0.0) for q in qids])

    base = ndcg(run_from_rankings(Ranking.first_stage(r) for r in requests))
    student = ndcg(selector_run)
    rows = [{"row": f"{args.first_stage} alone", "ndcg": base.mean()},
            {"row": "student alone (head-by)", "ndcg": student.mean()}]
    for number, text in enumerate(args.teacher, start=1):
        stages = parse_spec(text, set(METHODS))
        if len(stages) != 1 or stages[0].is_rrf or stages[0].top_k is None:
            sys.exit(f"{text!r}: a teacher is one method:model{{options}}@K")
        member, k = stages[0].members[0], stages[0].top_k
        path = OUT / f"{Path(args.dataset).name}-{args.first_stage}-{re.sub(r'[^A-Za-z0-9.]+', '-', text)}.jsonl"
        teacher = Reranker.load(member.model, method=member.method, **member.options)
        start = time.perf_counter()
        labelled = label_with_teacher(teacher, requests, path, head=(selector, k))
        seconds = (time.perf_counter() - start) / labelled if labelled else None
        labels = read_teacher_labels(path)
        for weight, label in ((None, f"T{number}: head by teacher"),
                              (1.0, f"T{number}: head by z(student) + z(teacher)")):
            run = {q: head_orders(selector_run[q], list(labels[q]), labels[q], weight) for q in qids}
            values = ndcg(run)
            wins, ties, losses = win_tie_loss(values, student)
            rows.append({"row": label, "ndcg": values.mean(), "p": randomization_test(values, student),
                         "wtl": f"{wins}/{ties}/{losses}", "seconds": seconds})

    table = Table(title=f"teachers on {args.dataset} {args.first_stage} ({len(qids)} judged queries); heads by "
                        f"{args.head_by}")
    for column in ("row", "nDCG@10", "p vs student", "W/T/L vs student", "teacher s/query (this run)"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["row"], f"{row['ndcg']:.4f}", f"{row['p']:.3f}" if "p" in row else "",
                      row.get("wtl", ""), f"{row['seconds']:.1f}" if row.get("seconds") else "")
    console = Console()
    console.print(table)
    console.print(f"student: {args.head_by}")
    for number, text in enumerate(args.teacher, start=1):
        console.print(f"T{number}: {text}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=float))


if __name__ == "__main__":
    main()

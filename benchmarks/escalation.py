"""Cascades that escalate only doubtful queries (issue 42 item 4): nDCG@10 against cost on TREC DL 2019 for
MaxSim (calibrated on DL 2021, DL 2019 held out) then an LLM method over its top K, escalating only the
queries whose calibrated top 10 is doubtful, beside never and always escalating.

    python benchmarks/escalation.py [--second first:qwen2.5-coder-0.5b{backend=llama.cpp,window=20}] \\
        [--second-k 20] [--queries 43] [--plot benchmarks/results/escalation.png]

Both stages run once per query (every query escalated), with their times; a threshold's cascade is then
what those per-query results give (a query escalated has the second stage's order over the head and pays
its time), for every threshold of `doubt@10` and of a band around P = 0.5 on `top1`. Two points are
checked against the real cascade (`escalate_when`) run end to end, and one against a latency budget
(`budget=` seconds per query), in the same process."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, dataset_dir, peak_rss_mib  # noqa: E402


def per_query_ndcg(rankings, qrels) -> dict[str, float]:
    from rankwise.pipelines.evaluate import per_query, run_from_rankings

    return per_query(run_from_rankings(rankings), qrels, ["nDCG@10"])["nDCG@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="dl19")
    parser.add_argument("--calibrate-on", default="dl21")
    parser.add_argument("--first", default="maxsim:minilm-embed")
    parser.add_argument("--second", default="first:qwen2.5-coder-0.5b{backend=llama.cpp,window=20}")
    parser.add_argument("--second-k", type=int, default=20)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "escalation")
    parser.add_argument("--plot", default=None)
    args = parser.parse_args()

    from rankwise import Reranker
    from rankwise.calibration import Calibration
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.calibrate import calibrate
    from rankwise.pipelines.evaluate import evaluate, run_from_rankings
    from rankwise.rerankers.compose.escalation import doubt
    from rankwise.types import Ranking, Request

    console = Console(width=160)
    args.out.mkdir(parents=True, exist_ok=True)
    data = dataset_dir(args.dataset)
    qrels = read_qrels(data / "qrels.txt")
    judged = set(qrels)
    requests = [r for r in read_candidates(data / "bm25_top100.json") if r.query.qid in judged][: args.queries]
    calibration_file = args.out / f"{args.first.replace(':', '_')}-{args.calibrate_on}.json"
    if not calibration_file.is_file():
        console.print(f"calibrating {args.first} on {args.calibrate_on} ({args.dataset} held out) ...")
        fitted, _ = calibrate(Reranker.load(args.first, threads=args.threads), [dataset_dir(args.calibrate_on)],
                              [data])
        fitted.save(calibration_file)
    Calibration.load(calibration_file)

    first = Reranker.load(args.first, threads=args.threads, calibration=str(calibration_file))
    second = Reranker.load(args.second, threads=args.threads)
    first.rerank_batch(requests[:1])
    first_rankings, first_seconds = [], {}
    for request in requests:
        start = time.perf_counter()
        first_rankings.extend(first.rerank_batch([request]))
        first_seconds[request.query.qid] = time.perf_counter() - start
    second_rankings, second_seconds = [], {}
    for request, ranking in zip(requests, first_rankings):
        by_id = {c.docid: c for c in request.candidates}
        head = [by_id[d] for d in ranking.docids[: args.second_k]]
        start = time.perf_counter()
        reranked = second.rerank_batch([Request(request.query, head)])[0]
        second_seconds[request.query.qid] = time.perf_counter() - start
        order = [d for d in reranked.docids] + ranking.docids[args.second_k :]
        position = {c.docid: i for i, c in enumerate(request.candidates)}
        n = len(order)
        second_rankings.append(Ranking.from_order(request, [position[d] for d in order],
                                                  [float(n - i) for i in range(n)]))
        console.print(f"  {request.query.qid}: second stage {second_seconds[request.query.qid]:.1f} s", highlight=False)
    ndcg_first, ndcg_second = per_query_ndcg(first_rankings, qrels), per_query_ndcg(second_rankings, qrels)
    doubts = {r.query.qid: doubt([x.probability or 0.0 for x in r], 10) for r in first_rankings}
    top1 = {r.query.qid: (r.results[0].probability or 0.0) for r in first_rankings}
    qids = [r.query.qid for r in requests]
    base_cost = sum(first_seconds.values()) / len(qids)

    def point(escalated: set[str]) -> tuple[float, float, float]:
        ndcg = sum(ndcg_second[q] if q in escalated else ndcg_first[q] for q in qids) / len(qids)
        cost = base_cost + sum(second_seconds[q] for q in escalated) / len(qids)
        return len(escalated) / len(qids), cost, ndcg

    curves: dict[str, list[tuple[str, float, float, float]]] = {"doubt@10 >= t": [], "top1 within 0.5 ± w": []}
    for t in sorted(set(doubts.values()), reverse=True):
        curves["doubt@10 >= t"].append((f"{t:.3f}", *point({q for q in qids if doubts[q] >= t})))
    for w in sorted({abs(top1[q] - 0.5) for q in qids}):
        curves["top1 within 0.5 ± w"].append((f"{w:.3f}", *point({q for q in qids if abs(top1[q] - 0.5) <= w})))
    never, always = point(set()), point(set(qids))

    # The real cascade at two thresholds and under a latency budget, against what the table predicts.
    checks = []
    ordered = sorted(doubts.values(), reverse=True)
    for t in (ordered[len(ordered) // 4], ordered[len(ordered) // 2]):
        spec = (f"{args.first}{{calibration={calibration_file}}}@100 >> "
                f"{args.second[:-1] + ',' if args.second.endswith('}') else args.second + '{'}"
                f"escalate_when=doubt@10:{t:.6f}..1}}@{args.second_k}")
        cascade = Reranker.load(spec, threads=args.threads)
        start = time.perf_counter()
        rankings = cascade.rerank_batch(requests)
        seconds = (time.perf_counter() - start) / len(requests)
        escalated = {r.query.qid for r in rankings if r.trace["stages"][1].get("escalated")}
        predicted = {q for q in qids if doubts[q] >= float(f"{t:.6f}")}
        measured = evaluate(run_from_rankings(rankings), qrels)["nDCG@10"]
        checks.append((f"escalate_when=doubt@10:{t:.3f}..1", len(escalated) / len(qids), seconds, measured,
                       point(predicted)[2], escalated == predicted))
    budget = (base_cost + always[1]) / 2
    cascade = Reranker.load(f"{args.first}{{calibration={calibration_file}}}@100 >> {args.second}@{args.second_k}",
                            threads=args.threads)
    from rankwise.pipelines.rerank import rerank_requests

    report = rerank_requests(cascade, requests, queries_per_batch=len(requests), budget_per_query=budget)
    escalated = {r.query.qid for r in report.rankings if r.trace["stages"][1].get("escalated")}
    checks.append((f"budget {budget:.2f} s/query", len(escalated) / len(qids), report.seconds_per_query,
                   evaluate(run_from_rankings(report.rankings), qrels)["nDCG@10"], point(escalated)[2], None))

    table = Table(title=f"{args.first} (calibrated on {args.calibrate_on}) >> {args.second}@{args.second_k}, "
                        f"{args.dataset} {len(qids)} queries, {args.threads} threads; peak RSS {peak_rss_mib():.0f} MiB")
    for column in ("rule", "threshold", "escalated", "s/query", "nDCG@10"):
        table.add_column(column)
    table.add_row("never escalate", "-", "0%", f"{never[1]:.2f}", f"{never[2]:.4f}")
    table.add_row("always escalate", "-", "100%", f"{always[1]:.2f}", f"{always[2]:.4f}")
    for name, points in curves.items():
        step = max(1, len(points) // 8)
        for label, share, cost, ndcg in points[::step]:
            table.add_row(name, label, f"{share:.0%}", f"{cost:.2f}", f"{ndcg:.4f}")
    console.print(table)
    checked = Table(title="the real cascade, run end to end, against the per-query prediction")
    for column in ("run", "escalated", "s/query (measured)", "nDCG@10 (measured)", "nDCG@10 (predicted)",
                   "same queries escalated"):
        checked.add_column(column)
    for name, share, seconds, measured, predicted, same in checks:
        checked.add_row(name, f"{share:.0%}", f"{seconds:.2f}", f"{measured:.4f}", f"{predicted:.4f}",
                        "-" if same is None else str(same))
    console.print(checked)
    (args.out / "curves.json").write_text(json.dumps({"never": never, "always": always, "curves": curves,
                                                      "checks": checks}, indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(7, 4.5))
        for (name, points), style in zip(curves.items(), ("-", "--")):
            axis.plot([p[2] for p in points], [p[3] for p in points], style, color="black", marker=".",
                      label=f"escalate when {name}")
        axis.scatter([never[1]], [never[2]], marker="s", color="tab:blue", label="never escalate", zorder=3)
        axis.scatter([always[1]], [always[2]], marker="D", color="tab:red", label="always escalate", zorder=3)
        axis.set_xlabel("seconds per query (2-core CPU)")
        axis.set_ylabel("nDCG@10")
        axis.set_title(f"{args.first} >> {args.second.split('{')[0]}@{args.second_k}, {args.dataset}", fontsize=9)
        axis.grid(True, linestyle=":", color="lightgray")
        axis.legend(fontsize=7)
        figure.tight_layout()
        figure.savefig(args.plot, dpi=120)
        console.print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()

"""`rankwise judge`: an LLM relevance judge writing TREC qrels and its evidence, resumable; `judge agree`:
agreement between two qrels (kappa, confusion, Kendall's tau of system orderings)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankwise.cli.common import MODEL_FLAG, console, errors, progress_bar, reports_errors, takes_reranker_flags
from rankwise.errors import InputError

judge_app = typer.Typer(
    add_completion=False,
    invoke_without_command=True,
    no_args_is_help=False,
    help="Relevance judgments for your own data: an LLM judge, and agreement between qrels.",
)


@judge_app.callback()
@reports_errors
@takes_reranker_flags
def judge(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help=MODEL_FLAG.help),
    input: Optional[Path] = typer.Option(
        None, "--input", "-i", help="Candidate file (what `rerank --input` takes): the queries and passage texts."
    ),
    out: Optional[Path] = typer.Option(
        None, help="Folder for qrels.txt and judgments.jsonl; an existing one is resumed (no pair is judged twice)."
    ),
    preset: str = typer.Option("umbrela", help="Judge prompt: umbrela (UMBRELA's), graded (0-3) or yes-no."),
    pool: list[Path] = typer.Option(
        [],
        "--pool",
        help="A TREC run whose top --depth per query is judged; "
        "repeatable (the union is the pool). Default: every "
        "candidate of --input.",
    ),
    depth: int = typer.Option(10, help="Pool depth per run."),
    skip: list[Path] = typer.Option([], "--skip", help="Existing qrels whose pairs are not judged again."),
    grade_from: str = typer.Option(
        "argmax",
        help="The grade written to qrels: argmax or expected (rounded) of "
        "the grade distribution when the backend gives log-probs, or "
        "answer (the text); without log-probs, the text.",
    ),
    judge_batch: int = typer.Option(8, "--judge-batch", help="Pairs judged (and saved) together."),
    max_passage_tokens: int = typer.Option(512, help="Passages are cut to this many tokens."),
    queries: Optional[int] = typer.Option(None, help="Only the first N queries of --input."),
    options: Optional[dict] = None,
) -> None:
    """Judge (query, passage) pairs with an LLM: DIR/qrels.txt (grades 0-3) and DIR/judgments.jsonl (each
    judgment's prompt id, answer, grade distribution, tokens, seconds). Subcommands: agree."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None or input is None or out is None:
        raise InputError("rankwise judge needs --model, --input and --out (or a subcommand: agree)")
    from rankwise.io import read_candidates, read_qrels
    from rankwise.pipelines.judge.llm_judge import judge_into, open_judge
    from rankwise.pipelines.judge.pool import pooled_pairs
    from rankwise.pipelines.judge.store import JudgmentStore

    store = JudgmentStore(out)
    skipped = {(q, d) for path in skip for q, docs in read_qrels(path).items() for d in docs}
    pairs, counts = pooled_pairs(read_candidates(input)[:queries], pool, depth, skipped)
    judge = open_judge(model, options or {}, preset, grade_from, max_passage_tokens)  # type: ignore[arg-type]
    with progress_bar("judging") as bar:
        bar(0, total=sum(1 for p in pairs if (p.qid, p.docid) not in store))
        judged = judge_into(judge, pairs, store, judge_batch, bar)
    invalid = sum(1 for r in store.records.values() if not r.get("valid", True))
    errors.print(
        f"{judged} pairs judged this run; {len(store)} in {out / 'qrels.txt'} ({invalid} answers malformed, "
        f"graded {judge.prompt.malformed_grade}); {counts['already_judged']} skipped as judged, "
        f"{counts['pooled_not_in_input']} pooled but not in --input"
    )


@judge_app.command("agree")
@reports_errors
def agree(
    qrels_a: Path = typer.Argument(..., help="Qrels A (e.g. the LLM's)."),
    qrels_b: Path = typer.Argument(..., help="Qrels B (e.g. people's)."),
    run: list[Path] = typer.Option(
        [], "--run", help="A TREC run; with two or more, Kendall's tau between the system orderings each qrels implies."
    ),
    relevance_level: int = typer.Option(2, help="Grade from which a passage counts as relevant (binary kappa)."),
    measure: str = typer.Option("nDCG@10", help="The measure systems are ordered by (ir-measures syntax)."),
    plot: Optional[Path] = typer.Option(None, help="PNG: the confusion matrix and the systems under A and B."),
) -> None:
    """Agreement between two qrels: Cohen's kappa (graded, quadratic-weighted and binary), the confusion
    matrix and, given runs, Kendall's tau between the system orderings."""
    from rich.table import Table

    from rankwise.pipelines.judge import agreement as agreement_module

    result = agreement_module.agreement(qrels_a, qrels_b, run, relevance_level, measure)
    console.print(f"{result.pairs} pairs judged in both ({result.only_a} only in A, {result.only_b} only in B)")
    console.print(
        f"Cohen's kappa: {result.kappa:.4f} graded, {result.kappa_weighted:.4f} quadratic-weighted, "
        f"{result.kappa_binary:.4f} binary (relevant at grade >= {relevance_level})"
    )
    table = Table("A \\ B", *[str(g) for g in agreement_module.GRADES], title="confusion (rows: A)")
    for grade, row in zip(agreement_module.GRADES, result.confusion):
        table.add_row(str(grade), *[str(c) for c in row])
    console.print(table)
    if result.systems:
        systems = Table("run", f"{measure} (A)", f"{measure} (B)", title="systems")
        for name, (under_a, under_b) in result.systems.items():
            systems.add_row(name, f"{under_a:.4f}", f"{under_b:.4f}")
        console.print(systems)
        if result.tau is not None:
            console.print(f"Kendall's tau between the system orderings: {result.tau:.4f} (p = {result.tau_p:.3g})")
    if plot is not None:
        label_a, label_b = qrels_labels(qrels_a, qrels_b)
        console.print(f"plot: {agreement_module.plot(result, plot, label_a, label_b)}")


@judge_app.command("serve")
@reports_errors
def serve_judging(
    input: Path = typer.Option(..., "--input", "-i", help="Candidate file: the queries and passages to judge."),
    out: Path = typer.Option(
        ...,
        help="Folder for human_judgments.jsonl and votes.jsonl (and where "
        "`rankwise judge` wrote the LLM's judgments, shown as suggestions).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8400, help="Port to bind."),
    arena: Optional[tuple[str, str]] = typer.Option(
        None, help="Two rerankers (names or specs) whose top lists the arena compares blind."
    ),
    top_k: int = typer.Option(5, help="Results per list in the arena."),
    queries: Optional[int] = typer.Option(None, help="Only the first N queries of --input."),
) -> None:
    """The judging page (/judge), the blind arena (/arena) and its leaderboard (/leaderboard), served locally.
    Every judgment and vote is on disk the moment it is given."""
    import uvicorn

    from rankwise.api import Reranker
    from rankwise.io import read_candidates
    from rankwise.server.judging.app import create_judging_app

    requests = read_candidates(input)[:queries]
    rerankers = {spec: Reranker.load(spec) for spec in arena} if arena else None
    application = create_judging_app(requests, out, rerankers, top_k)
    console.print(f"judging page: http://{host}:{port}/judge  arena: http://{host}:{port}/arena")
    uvicorn.run(application, host=host, port=port, log_level="warning")


def qrels_labels(a: Path, b: Path) -> tuple[str, str]:
    """Axis labels for two qrels files: their names, or with their folders when the names are alike (two
    `qrels.txt`), so a plot says which is which."""
    if a.name != b.name:
        return f"A: {a.name}", f"B: {b.name}"
    return f"A: {a.parent.name}/{a.name}", f"B: {b.parent.name}/{b.name}"

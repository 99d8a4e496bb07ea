"""Command line: `rankwise rerank`, `rankwise models`, `rankwise eval`."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from rankwise.errors import RankwiseError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Rerank search results with neural and LLM rerankers.")
console = Console()
errors = Console(stderr=True)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Show rankwise errors as one readable line and exit 2, instead of a stack trace."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (RankwiseError, ValueError, TypeError) as e:
            errors.print(f"[bold red]error:[/] {e}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


@app.command()
@reports_errors
def rerank(
    model: str = typer.Option(..., "--model", "-m", help="Registered name, local path, or Hugging Face id."),
    method: Optional[str] = typer.Option(None, help="Reranking method (default: the model's)."),
    query: Optional[str] = typer.Option(None, "--query", "-q", help="A single query (with --docs)."),
    docs: Optional[Path] = typer.Option(None, help="JSONL documents for --query."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="Candidate file (rank_llm JSON / JSONL)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TREC run to write (with --input)."),
    output_json: Optional[Path] = typer.Option(None, help="Also write rank_llm-style JSON (with --input)."),
    top_k: Optional[int] = typer.Option(None, help="Rerank only the first K candidates of each query."),
    top_n: int = typer.Option(10, help="Results to print for --query."),
    queries: Optional[int] = typer.Option(None, help="Only the first N queries of --input."),
    batch_size: int = typer.Option(32, help="Inputs per forward pass."),
    queries_per_batch: int = typer.Option(4, help="Queries whose pairs share batches."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda, mps (default: best available)."),
    threads: Optional[int] = typer.Option(None, help="torch threads."),
    tag: str = typer.Option("rankwise", help="Run tag for the TREC file."),
) -> None:
    """Rerank one query's documents (--query/--docs) or a whole candidate file (--input/--output)."""
    if (query is None) == (input is None):
        raise ValueError("give either --query with --docs, or --input with --output")
    if query is not None and docs is None:
        raise ValueError("--query needs --docs (a JSONL file of documents)")
    if input is not None and output is None and output_json is None:
        raise ValueError("--input needs --output (a TREC run) and/or --output-json")
    from rankwise.api import Reranker
    from rankwise.io import read_candidates, read_documents

    requests = read_candidates(input)[:queries] if input is not None else None
    documents = read_documents(docs) if docs is not None else None
    with console.status(f"loading {model}"):
        reranker = Reranker.load(model, method=method, batch_size=batch_size, device=device, threads=threads)
    if query is not None:
        ranking = reranker.rerank(query, documents, top_n=top_n, qid="query")
        _print_ranking(ranking)
        return
    _rerank_file(reranker, requests, top_k, queries_per_batch, output, output_json, tag)


def _print_ranking(ranking) -> None:
    table = Table(title=f"{ranking.query.text}")
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    table.add_column("docid", no_wrap=True)
    table.add_column("text", overflow="fold")
    for result in ranking:
        text = result.text if len(result.text) <= 160 else result.text[:157] + "..."
        table.add_row(str(result.rank), f"{result.score:.4f}", result.docid, text)
    console.print(table)


def _rerank_file(reranker, requests, top_k, queries_per_batch, output, output_json, tag) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from rankwise.io import write_candidates, write_run
    from rankwise.pipelines.rerank import rerank_requests

    columns = (TextColumn("reranking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=errors, transient=False) as progress:
        task = progress.add_task("rerank", total=len(requests))
        report = rerank_requests(reranker, requests, top_k=top_k, queries_per_batch=queries_per_batch,
                                 on_progress=lambda n: progress.advance(task, n))
    if output is not None:
        write_run(report.rankings, output, tag=tag)
    if output_json is not None:
        write_candidates(report.rankings, output_json)
    console.print(f"{len(report.rankings)} queries, {report.documents} documents reranked in "
                  f"{report.seconds:.1f} s ({report.seconds_per_query:.3f} s/query, "
                  f"{report.docs_per_second:.1f} docs/s)"
                  + (f"; run written to {output}" if output else ""))


@app.command()
def models() -> None:
    """List registered models, where their weights come from, and whether they are present."""
    from rankwise.models.registry import MODELS

    table = Table(title="registered models")
    table.add_column("name", no_wrap=True)
    for column in ("methods", "offline weights", "present", "online (HF id)", "license"):
        table.add_column(column)
    for spec in MODELS.values():
        present = spec.local is not None and spec.local.available()
        table.add_row(spec.name, ", ".join(spec.methods), spec.local.describe() if spec.local else "-",
                      "[green]yes[/]" if present else "[red]no[/]", spec.hf_id, spec.license)
    console.print(table)
    console.print("Any Hugging Face id or local directory also works as --model.")


@app.command("eval")
@reports_errors
def evaluate_run(
    run: Path = typer.Option(..., help="TREC run file."),
    qrels: Path = typer.Option(..., help="TREC qrels file."),
) -> None:
    """Print nDCG@10, nDCG@5, MAP@100, MRR@10 and R@100 (ir-measures; binary measures use rel >= 2)."""
    from rankwise.io import read_qrels, read_run
    from rankwise.pipelines.evaluate import evaluate

    scores = evaluate(read_run(run), read_qrels(qrels))
    table = Table(title=str(run))
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in scores.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

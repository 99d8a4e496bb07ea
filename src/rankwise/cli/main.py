"""Command line: `rankwise rerank`, `models`, `eval`, `index`, `search`, `bench`, `calibrate`, `serve`, `mcp`;
`train` and `label` are in `cli.train`."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rankwise.cli.common import (
    METHOD_FLAG,
    MODEL_FLAG,
    console,
    errors,
    progress_bar,
    reports_errors,
    takes_reranker_flags,
)
from rankwise.cli.judge import judge_app
from rankwise.cli.train import label, train_app
from rankwise.errors import InputError, ModelNotAvailableError, OptionError
from rankwise.types import Ranking

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Rerank search results with neural and LLM rerankers."
)


@app.callback()
def main(
    verbose: bool = typer.Option(
        False,
        "--verbose",
        help="Show what the libraries below print while loading (transformers' progress bars and load reports).",
    ),
) -> None:
    """Rerank search results with neural and LLM rerankers."""
    if verbose:
        from rankwise.verbosity import set_verbose

        set_verbose(True)


@app.command()
@reports_errors
@takes_reranker_flags
def rerank(
    model: str = MODEL_FLAG,
    method: Optional[str] = METHOD_FLAG,
    query: Optional[str] = typer.Option(None, "--query", "-q", help="A single query (with --docs)."),
    docs: Optional[Path] = typer.Option(None, help="JSONL documents for --query."),
    input: Optional[Path] = typer.Option(None, "--input", "-i", help="Candidate file (rank_llm JSON / JSONL)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="TREC run to write (with --input)."),
    output_json: Optional[Path] = typer.Option(None, help="Also write rank_llm-style JSON (with --input)."),
    output_dir: Optional[Path] = typer.Option(
        None,
        help="Batch job: sharded TREC runs, an errors file per shard and a manifest; rerun the same command to resume.",
    ),
    engine: str = typer.Option("local", help="Batch engine for --output-dir: local, or ray (workers on Ray actors)."),
    workers: int = typer.Option(1, help="Ray actors, each with its own copy of the model (--engine ray)."),
    address: Optional[str] = typer.Option(
        None, help="Ray cluster to join (auto, ray://host:10001); default: a local Ray instance."
    ),
    shard_queries: int = typer.Option(256, help="Queries per shard of a batch job."),
    top_k: Optional[int] = typer.Option(None, help="Rerank only the first K candidates of each query."),
    top_n: int = typer.Option(10, help="Results to print for --query."),
    min_probability: Optional[float] = typer.Option(
        None,
        help="With a calibration (-O calibration=FILE): only results at least this likely to be relevant (--query).",
    ),
    coverage: Optional[float] = typer.Option(
        None, help="With a calibration: the adaptive prefix holding a relevant result with this probability (--query)."
    ),
    budget: Optional[float] = typer.Option(
        None,
        help="Seconds per query a cascade may spend escalating doubtful queries to its costlier stages "
        "(a stage after a calibrated one; the most doubtful first).",
    ),
    queries: Optional[int] = typer.Option(None, help="Only the first N queries of --input."),
    queries_per_batch: int = typer.Option(4, help="Queries whose pairs share batches."),
    tag: str = typer.Option("rankwise", help="Run tag for the TREC file."),
    options: Optional[dict] = None,
) -> None:
    """Rerank one query's documents (--query/--docs) or a whole candidate file (--input/--output)."""
    if (query is None) == (input is None):
        raise InputError("give either --query with --docs, or --input with --output")
    if query is not None and docs is None:
        raise InputError("--query needs --docs (a JSONL file of documents)")
    if input is not None and output is None and output_json is None and output_dir is None:
        raise InputError("--input needs --output (a TREC run), --output-json, or --output-dir (a batch job)")
    from rankwise.api import Reranker
    from rankwise.io import read_candidates, read_documents

    if output_dir is not None and budget is not None:
        raise InputError(
            "--budget applies to --query and --input/--output; a batch job's results must not depend on timing "
            "(use escalate_when in the spec instead)"
        )
    if output_dir is not None and queries is not None:
        raise InputError(
            "--queries applies to --output/--output-json; a batch job (--output-dir) reranks its whole input, "
            "streamed: give it a file of the queries you want"
        )
    if output_dir is not None:  # streamed: the input is not read whole
        _rerank_batch_job(
            model,
            method,
            input,
            output_dir,
            shard_queries,
            top_k,
            queries_per_batch,
            tag,
            options,
            engine,
            workers,
            address,
        )
        return
    requests = read_candidates(input)[:queries] if input is not None else None
    documents = read_documents(docs) if docs is not None else None
    with console.status(f"loading {model}"):
        reranker = Reranker.load(model, method=method, **options)
    if query is not None:
        ranking = reranker.rerank(
            query,
            documents,
            top_n="adaptive" if coverage is not None else top_n,
            qid="query",
            min_probability=min_probability,
            coverage=coverage,
            budget=budget,
        )
        _print_ranking(ranking.top(top_n))
        return
    if min_probability is not None or coverage is not None:
        raise InputError("--min-probability and --coverage apply to --query; a run file keeps every candidate")
    _rerank_file(reranker, requests, top_k, queries_per_batch, output, output_json, tag, input, budget)


def _rerank_batch_job(
    model,
    method,
    input_path,
    output_dir,
    shard_queries,
    top_k,
    queries_per_batch,
    tag,
    options,
    engine,
    workers,
    address,
) -> None:
    from rankwise.pipelines.batch import run_batch
    from rankwise.rerankers.compose.spec import RerankerSpec

    # The same spec for every engine: a job started on one engine resumes on the other, to the same bytes.
    spec = RerankerSpec(model, method, options)
    with progress_bar("reranking") as bar:
        summary = run_batch(
            spec,
            input_path,
            output_dir,
            shard_queries=shard_queries,
            top_k=top_k,
            tag=tag,
            queries_per_batch=queries_per_batch,
            on_progress=bar,
            engine=engine,
            workers=workers,
            address=address,
        )
    console.print(
        f"{summary.queries} queries in {summary.shards} shards ({summary.resumed_shards} already done) "
        f"written to {output_dir}; {summary.errors} bad queries in its errors-*.jsonl"
    )
    for sample in summary.error_samples:
        errors.print(f"[yellow]bad query:[/] {escape(sample)}", highlight=False)
    if summary.errors:
        raise typer.Exit(code=3)


def _print_ranking(ranking) -> None:
    table = Table(title=f"{ranking.query.text}")
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    calibrated = any(result.probability is not None for result in ranking)
    if calibrated:
        table.add_column("P(relevant)", justify="right")
    table.add_column("docid", no_wrap=True)
    table.add_column("text", overflow="fold")
    for result in ranking:
        text = result.text if len(result.text) <= 160 else result.text[:157] + "..."
        probability = [f"{result.probability:.3f}"] if calibrated else []
        table.add_row(str(result.rank), f"{result.score:.4f}", *probability, result.docid, text)
    console.print(table)


def _rerank_file(reranker, requests, top_k, queries_per_batch, output, output_json, tag, input_path, budget) -> None:
    from rankwise.io import write_candidates, write_run
    from rankwise.io.sidecar import write_sidecar
    from rankwise.pipelines.rerank import rerank_requests

    with progress_bar("reranking") as bar:
        bar(0, total=len(requests))
        report = rerank_requests(
            reranker,
            requests,
            top_k=top_k,
            queries_per_batch=queries_per_batch,
            on_progress=bar,
            budget_per_query=budget,
        )
    if output is not None:
        write_run(report.rankings, output, tag=tag)
        write_sidecar(
            output,
            {
                **reranker.describe(),
                "label": tag if tag != "rankwise" else None,
                "input": str(input_path),
                "top_k": top_k,
                "queries": len(requests),
                "seconds_per_query": report.seconds_per_query,
                "docs_per_second": report.docs_per_second,
            },
        )
    if output_json is not None:
        write_candidates(report.rankings, output_json)
    console.print(
        f"{len(report.rankings)} queries, {report.documents} documents reranked in "
        f"{report.seconds:.1f} s ({report.seconds_per_query:.3f} s/query, "
        f"{report.docs_per_second:.1f} docs/s)" + (f"; run written to {output}" if output else "")
    )


@app.command()
def models() -> None:
    """List registered models, where their weights come from, and whether they are present."""
    from rankwise.models.registry import MODELS
    from rankwise.rerankers.registry import methods_for, registered_method

    table = Table(title="registered models")
    table.add_column("name", no_wrap=True)
    for column in (
        "kind",
        "size",
        "methods (default first)",
        "preset",
        "offline weights",
        "present",
        "online (HF id)",
        "license",
    ):
        table.add_column(column)
    for spec in MODELS.values():
        present = (spec.local is not None and spec.local.available()) or spec.in_hf_cache()
        default = registered_method(spec)
        methods = [default] + [m for m in methods_for(spec.kind) if m != default]
        table.add_row(
            spec.name,
            spec.kind,
            spec.parameters or "-",
            ", ".join(methods),
            spec.preset or "-",
            spec.local.describe() if spec.local else "HF cache only",
            "[green]yes[/]" if present else "[red]no[/]",
            spec.hf_id or "-",
            spec.license,
        )
    console.print(table)
    console.print(
        "Any Hugging Face id or local directory also works as --model (with -O preset=NAME for a "
        "checkpoint family rankwise knows)."
    )


@app.command()
@reports_errors
def methods(
    method: Optional[str] = typer.Argument(None, help="A method whose options to list (default: every method)."),
) -> None:
    """List reranking methods, or one method's options with their types, defaults and help (read from the
    declarations `Reranker.load` checks them against)."""
    from rankwise.options import option_docs
    from rankwise.rerankers.registry import METHODS, method_class

    if method is None:
        table = Table(title="methods")
        for column in ("method", "model kinds", "needs (backend capabilities)", "score (default)", "options"):
            table.add_column(column)
        for name in METHODS:
            cls = method_class(name)
            options = ", ".join(doc.name for doc in option_docs(cls.Options)) or "-"
            needs = ", ".join(sorted(c.value for c in cls.requires)) or "-"
            table.add_row(name, ", ".join(cls.model_kinds), needs, cls.score_kind.value, options)
        console.print(table)
        console.print("Options of one method: `rankwise methods METHOD`; give them as -O KEY=VALUE.")
        return
    cls = method_class(method)
    table = Table(title=f"options of {method} (-O KEY=VALUE)")
    for column in ("option", "type", "default", "help"):
        table.add_column(column, overflow="fold")
    for doc in option_docs(cls.Options):
        table.add_row(doc.name, doc.type, doc.default, doc.help)
    console.print(table)


@app.command()
@reports_errors
def backends(
    measure: Optional[str] = typer.Option(
        None,
        "--measure",
        metavar="MODEL",
        help="Time MODEL on every installed encoder backend (fp32), check their scores equal, and record the "
        "fastest: what that model then opens with when no backend is named.",
    ),
    method: Optional[str] = typer.Option(
        None, "--method", help="The method whose work is timed (default: the model's)."
    ),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="CPU threads (a choice is kept per count)."),
) -> None:
    """List backends, the capabilities each offers, and whether what it needs is installed; with --measure,
    choose an encoder's default backend on this CPU by measuring."""
    from rankwise.backends.registry import BACKENDS

    if measure is not None:
        _measure_backends(measure, method, threads)
        return
    table = Table(title="backends")
    for column in ("name", "capabilities", "installed", "description"):
        table.add_column(column)
    for entry in BACKENDS.values():
        missing = entry.missing_modules()
        table.add_row(
            entry.name,
            ", ".join(sorted(c.value for c in entry.capabilities)),
            "[green]yes[/]" if not missing else f"[red]no[/] ({entry.install_hint})",
            entry.description,
        )
    console.print(table)


def _measure_backends(model: str, method: str | None, threads: int | None) -> None:
    from rankwise.backends import choice
    from rankwise.backends.registry import locate
    from rankwise.rerankers.registry import default_method, method_class

    method = method or default_method(locate(model, None))
    needs = method_class(method).requires
    if choice.work_kind(needs) is None:
        raise OptionError(
            f"method {method!r} is not an encoder's work (it needs {', '.join(sorted(c.value for c in needs))}); "
            f"only {', '.join(choice.CANDIDATES)} are measured against each other"
        )
    with console.status(f"timing {model} ({method}) on {', '.join(choice.CANDIDATES)}"):
        chosen = choice.measure(locate(model, None), needs, threads)
    table = Table(title=escape(f"{model} · {chosen.work} · {chosen.cpu} · threads {threads or 'default'}"))
    for column in ("backend", "docs/s", "max diff vs transformers", "equal", "note"):
        table.add_column(column)
    for m in chosen.measurements:
        rate = f"{m.docs_per_second:.1f}" if m.docs_per_second else "-"
        diff = f"{m.max_diff:.1e}" if m.max_diff is not None else "-"
        mark = " [green](chosen)[/]" if m.backend == chosen.backend else ""
        table.add_row(m.backend + mark, rate, diff, "yes" if m.equal else "no", escape(m.note))
    console.print(table)
    console.print(f"recorded in {choice.choices_path()}: {model} now opens with backend {chosen.backend!r} here")


@app.command("eval")
@reports_errors
def evaluate_runs(
    qrels: Path = typer.Option(..., help="TREC qrels file."),
    run: list[Path] = typer.Option(..., help="TREC run file or batch output folder; repeat for several runs."),
    baseline: Optional[Path] = typer.Option(None, help="Run to test the others against (one of --run)."),
    relevance_level: int = typer.Option(2, help="Minimum grade counted relevant by binary measures."),
    test_measure: str = typer.Option("nDCG@10", help="Measure for significance tests and plots."),
    trials: int = typer.Option(10000, help="Randomization-test draws (exact when <= 16 queries)."),
    markdown: Optional[Path] = typer.Option(None, help="Also write the table as Markdown."),
    csv: Optional[Path] = typer.Option(None, help="Also write the table as CSV."),
    plot: Optional[Path] = typer.Option(None, help="Write per-query differences (and cost scatter) as PNG."),
) -> None:
    """Evaluate runs (ir-measures): nDCG@1/5/10, MAP@100, MRR@10, R@20, R@100, Judged@10, with paired
    t-test and randomization test against --baseline, Holm-Bonferroni-adjusted."""
    from rankwise.io import read_qrels
    from rankwise.io.sidecar import read_sidecar
    from rankwise.pipelines.evaluate import compare_runs, report_measures

    if baseline is not None and baseline not in run:
        run = [baseline, *run]
    runs, metadata, labels = {}, {}, {}
    for path in run:
        meta = read_sidecar(path)
        label = meta.get("label") or path.name
        if label in runs:
            label = f"{label} ({path})"
        labels[path] = label
        runs[label], metadata[label] = _read_run_or_batch(path), meta
    comparison = compare_runs(
        runs,
        read_qrels(qrels),
        baseline=labels.get(baseline) if baseline else None,
        measures=report_measures(relevance_level),
        test_measure=test_measure,
        metadata=metadata,
        trials=trials,
    )
    _show_comparison(comparison, markdown, csv, plot)


def _read_run_or_batch(path: Path) -> dict:
    from rankwise.io import read_run
    from rankwise.pipelines.batch import run_files

    merged: dict = {}
    for file in run_files(path):
        for qid, scores in read_run(file).items():
            if qid in merged:
                raise InputError(f"query {qid!r} appears in two shards", source=str(file))
            merged[qid] = scores
    return merged


def _show_comparison(comparison, markdown_path, csv_path, plot_path) -> None:
    from rankwise import reporting

    for warning in comparison.warnings:
        errors.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    console.print(reporting.rich_table(comparison))
    if markdown_path:
        markdown_path.write_text(reporting.markdown(comparison))
    if csv_path:
        csv_path.write_text(reporting.csv_text(comparison))
    if plot_path:
        reporting.plot(comparison, plot_path)
        console.print(f"plot written to {plot_path}")


@app.command()
@reports_errors
def index(
    corpus: str = typer.Option(..., help="JSONL, TSV or BEIR folder; or irds:NAME for ir_datasets."),
    out: Path = typer.Option(..., help="Index folder to write."),
    k1: float = typer.Option(0.9, help="BM25 k1."),
    b: float = typer.Option(0.4, help="BM25 b."),
    stemmer: str = typer.Option("english", help="PyStemmer language, or 'none'."),
    stopwords: str = typer.Option("en", help="Stopword list, or 'none'."),
    encode: Optional[str] = typer.Option(
        None,
        help="Also store each passage's embedding from this model (a "
        "forward index in OUT/forward) for index=OUT rerankers.",
    ),
    token_vectors: bool = typer.Option(False, help="With --encode: also store MaxSim token vectors."),
    dtype: str = typer.Option("float32", help="With --encode: float32 (exact), float16 or int8."),
    passage_prefix: Optional[str] = typer.Option(
        None, help="With --encode: text put before each passage (default: the folder's document prompt, if any)."
    ),
    passage_suffix: str = typer.Option(
        "", help="With --encode: text put after each passage (E2Rank's checkpoints: '<|endoftext|>')."
    ),
    chunk_size: int = typer.Option(1024, help="With --encode: passages per resumable chunk."),
    resume: bool = typer.Option(False, help="Continue a killed --encode build from its last finished chunk."),
    engine: str = typer.Option(
        "local", help="With --encode: local, or ray (chunks encoded on Ray actors, written by this process)."
    ),
    workers: int = typer.Option(1, help="With --engine ray: actors, each with its own copy of the encoder."),
    address: Optional[str] = typer.Option(None, help="With --engine ray: the cluster to join (default: local Ray)."),
    threads: Optional[int] = typer.Option(
        None, help="With --encode: CPU threads per encoder (default: all; with Ray, each actor's share)."
    ),
) -> None:
    """Build a BM25 index (bm25s) from a corpus and, with --encode, a forward index of passage vectors."""
    from rankwise.io.corpus import load_ir_dataset, read_corpus
    from rankwise.pipelines.retrieve import BM25Index, BM25Settings

    collection = load_ir_dataset(corpus[5:]) if corpus.startswith("irds:") else read_corpus(corpus)
    settings = BM25Settings(
        k1=k1, b=b, stemmer=None if stemmer == "none" else stemmer, stopwords=None if stopwords == "none" else stopwords
    )
    start = time.perf_counter()
    with console.status(f"indexing {len(collection.documents)} documents"):
        built = BM25Index.build(collection.documents, settings)
        built.save(out)
    console.print(f"indexed {len(collection.documents)} documents into {out} in {time.perf_counter() - start:.1f} s")
    if encode is None:
        return
    from rankwise.io.forward_index import FORWARD_FOLDER
    from rankwise.pipelines.index import build_forward_index

    start = time.perf_counter()
    with progress_bar(f"encoding with {encode}") as bar:
        forward = build_forward_index(
            collection.documents,
            out / FORWARD_FOLDER,
            encode,
            token_vectors=token_vectors,
            dtype=dtype,
            passage_prefix=passage_prefix,
            passage_suffix=passage_suffix,
            chunk_size=chunk_size,
            resume=resume,
            on_progress=bar,
            engine=engine,
            workers=workers,
            address=address,
            **({"threads": threads} if threads is not None else {}),
        )
    size = forward.bytes_on_disk()
    console.print(
        f"forward index: {len(forward)} passages in {time.perf_counter() - start:.1f} s, "
        f"{size / 2**20:.1f} MiB ({size / len(forward) / 1024:.1f} KiB per passage) in {forward.folder}"
    )


@app.command()
@reports_errors
def search(
    index: Path = typer.Option(..., "--index", help="Index folder from `rankwise index`."),
    topics: Path = typer.Option(..., help="Topics: qid<TAB>query (.tsv) or BEIR queries.jsonl."),
    output: Path = typer.Option(..., "--output", "-o", help="Candidates JSON (rank_llm shape) to write."),
    k: int = typer.Option(100, help="Candidates per query."),
    run: Optional[Path] = typer.Option(None, help="Also write a TREC run."),
) -> None:
    """Retrieve candidates with passage text for every topic, ready for `rankwise rerank`."""
    from rankwise.io import read_topics, write_candidates, write_run
    from rankwise.io.corpus import read_beir_queries
    from rankwise.pipelines.retrieve import BM25Index

    queries = read_beir_queries(topics) if topics.suffix == ".jsonl" else read_topics(topics)
    opened = BM25Index.load(index)
    start = time.perf_counter()
    with progress_bar("searching") as bar:
        bar(0, total=len(queries))
        requests = opened.search(queries, k=k, on_progress=bar)
    rankings = [Ranking.first_stage(r) for r in requests]
    write_candidates(rankings, output)
    if run:
        write_run(rankings, run, tag="bm25")
    console.print(f"{len(queries)} queries searched in {time.perf_counter() - start:.1f} s; candidates in {output}")


@app.command()
@reports_errors
@takes_reranker_flags
def bench(
    dataset: Path = typer.Option(..., help="Folder with {first-stage}_top100.json and qrels.txt."),
    rerankers: str = typer.Option(
        ...,
        help="Comma-separated 'model', 'method:model' or spec entries "
        "(cascades, rrf(...); commas inside them are kept).",
    ),
    first_stage: str = typer.Option("bm25", help="bm25 or splade_pp_ed."),
    top_k: int = typer.Option(100, help="Candidates reranked per query."),
    queries: Optional[int] = typer.Option(None, help="Only the first N queries."),
    out_dir: Path = typer.Option(Path("runs"), help="Where runs and sidecars go."),
    options: Optional[dict] = None,
    markdown: Optional[Path] = typer.Option(None, help="Also write the table as Markdown."),
    plot: Optional[Path] = typer.Option(None, help="Write the comparison PNG."),
) -> None:
    """Run several rerankers over one candidate set and print the evaluation table with costs."""
    from rankwise.pipelines.bench import run_bench
    from rankwise.rerankers.compose.spec import RerankerSpec, split_top_level

    # The registry reads each entry whole (method:model or a spec string), so the label is the text as given.
    specs = [RerankerSpec(s.strip()) for s in split_top_level(rerankers) if s.strip()]
    with progress_bar("bench") as bar:
        comparison = run_bench(
            dataset,
            specs,
            out_dir,
            first_stage=first_stage,
            top_k=top_k,
            queries=queries,
            options=options,
            on_progress=bar,
        )
    _show_comparison(comparison, markdown, None, plot)
    console.print(f"runs and sidecars in {out_dir}")


@app.command()
@reports_errors
@takes_reranker_flags
def calibrate(
    model: str = MODEL_FLAG,
    method: Optional[str] = METHOD_FLAG,
    collection: list[Path] = typer.Option(
        ..., help="Judged collection folder to fit on (topics, qrels.txt, {first stage}_top100.json); repeatable."
    ),
    held_out: list[Path] = typer.Option(
        [],
        help="Collection never read for the fit (refused as --collection, "
        "its queries dropped from the others); repeatable.",
    ),
    out: Path = typer.Option(..., help="Calibration file (JSON) to write."),
    first_stage: str = typer.Option("bm25", help="Which candidate file of each collection to rerank."),
    top_k: int = typer.Option(100, help="Candidates reranked per query."),
    relevance_level: int = typer.Option(2, help="Minimum grade counted relevant."),
    queries: Optional[int] = typer.Option(None, help="Only the first N judged queries of each collection."),
    folds: int = typer.Option(5, help="Cross-validation folds (split by query) choosing isotonic or Platt."),
    options: Optional[dict] = None,
) -> None:
    """Fit a map from the reranker's scores to P(relevant) on judged collections; load it with
    Reranker.load(..., calibration=FILE) or `-O calibration=FILE`."""
    from rankwise.api import Reranker
    from rankwise.pipelines.calibrate import calibrate as fit

    with console.status(f"loading {model}"):
        reranker = Reranker.load(model, method=method, **options)
    with progress_bar("calibrate") as bar:
        calibration, report = fit(
            reranker,
            collection,
            held_out,
            first_stage=first_stage,
            top_k=top_k,
            relevance_level=relevance_level,
            queries=queries,
            folds=folds,
            on_progress=bar,
        )
    calibration.save(out)
    data, metrics = report["data"], report["out_of_fold"]
    losses = ", ".join(f"{name} {loss:.4f}" for name, loss in report["cv_log_loss"].items())
    console.print(
        f"{data['queries']} queries, {data['pairs']} passages ({data['relevant']} relevant) from "
        f"{', '.join(data['collections'])}; held out: {', '.join(data['held_out']) or 'none'}"
        f" ({data['dropped_held_out_queries']} queries dropped)"
    )
    console.print(f"cross-validated log loss: {losses}; chosen {calibration.map} on the {calibration.feature}")
    console.print(
        f"out of fold: ECE {metrics['ece']:.4f}, Brier {metrics['brier']:.4f}, log loss {metrics['log_loss']:.4f}"
    )
    console.print(f"wrote {out}")


@app.command()
@reports_errors
@takes_reranker_flags
def serve(
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="A model to serve, as --model takes it elsewhere; repeat it to serve several (requests pick one "
        "by its name in `model`; the first answers requests that name none). NAME=MODEL serves it under NAME. "
        "--method and -O apply to every model; give one model its own as a spec, e.g. 'first:MODEL{window=10}'.",
    ),
    method: Optional[str] = METHOD_FLAG,
    adapter: list[str] = typer.Option(
        [],
        help="NAME=FOLDER: a LoRA adapter (peft) over the first model, kept unmerged and chosen by requests "
        "whose `model` is NAME; repeatable. The base is loaded once (transformers backend).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to bind."),
    api_key_file: Optional[Path] = typer.Option(
        None, help="File with API keys, one per line (also $RANKWISE_API_KEYS)."
    ),
    max_documents: int = typer.Option(1000, help="Documents per request."),
    max_document_chars: int = typer.Option(32768, help="Characters per document before truncation / 413."),
    max_query_chars: int = typer.Option(8192, help="Characters per query."),
    max_batch_pairs: int = typer.Option(64, help="Pairs scored together in one model call."),
    max_wait_ms: float = typer.Option(5.0, help="How long a batch waits for more requests."),
    max_queue_pairs: int = typer.Option(20000, help="Queued pairs before answering 503."),
    max_body_bytes: Optional[int] = typer.Option(
        None,
        help="Request body cap, checked before reading it (default: max-documents x max-document-chars "
        "+ max-query-chars + 1 MiB).",
    ),
    cors_origin: list[str] = typer.Option(
        [],
        help="Browser origin allowed to call the API (CORS), e.g. https://app.example.com; repeatable. Off by default.",
    ),
    public_docs: bool = typer.Option(
        False,
        help="With API keys, still serve /docs, /redoc and /openapi.json "
        "without one (browsers cannot send a bearer key to open /docs).",
    ),
    max_connections: int = typer.Option(
        1000,
        help="Open connections; past it, the oldest one still sending its "
        "headers (else the slowest body sender) is closed to let a new "
        "one in.",
    ),
    header_timeout: float = typer.Option(10.0, help="Seconds a connection gets to send a request's headers."),
    min_body_rate: float = typer.Option(
        1024.0,
        help="Bytes/s under which a connection still sending its body "
        "may be closed when the connection cap is reached.",
    ),
    body_timeout: float = typer.Option(60.0, help="Seconds a request gets to send its body (then 408)."),
    request_timeout: float = typer.Option(
        120.0,
        help="Seconds from a request's headers to its answer, queueing, "
        "tokenizing and scoring included (then 504 and the work "
        "stops; 0: no deadline).",
    ),
    max_json_values: int = typer.Option(
        100_000,
        help="JSON values (strings, numbers, objects, ...) in one body, counted before it is parsed (then 413).",
    ),
    max_json_depth: int = typer.Option(64, help="Nesting of objects and arrays in one body (then 413)."),
    max_metadata_values: int = typer.Option(
        1_000, help="Values in one document's id, metadata and other fields (then 413)."
    ),
    max_inflight_bytes: Optional[int] = typer.Option(
        None,
        help="Bytes of request bodies arriving or being answered at once, server-wide; past it, 503 "
        "(default: 8 x the body cap).",
    ),
    max_body_senders: int = typer.Option(
        256,
        help="Requests sending their bodies at once; past it, 503 from the "
        "headers, so slow uploads cannot hold every connection.",
    ),
    log_requests: Optional[Path] = typer.Option(
        None,
        help="Log every scored request (query, documents, scores, order, latency; never keys or headers) "
        "as JSONL in this folder, for `rankwise replay`. Off by default.",
    ),
    log_sample: float = typer.Option(1.0, min=0.0, max=1.0, help="With --log-requests: the share of requests logged."),
    drain_seconds: float = typer.Option(2.0, help="On shutdown, answer 503 this long while in-flight requests finish."),
    shutdown_grace: float = typer.Option(
        30.0,
        help="After the drain, seconds in-flight requests still get; any "
        "left then is answered 503 (retry) and its work stopped.",
    ),
    options: Optional[dict] = None,
) -> None:
    """Serve rerankers over HTTP: Cohere/Jina /v1/rerank and /v2/rerank, TEI's and Jina's /rerank, vLLM's /score,
    Voyage's /voyage/v1/rerank, /v1/models, /health, /ready, /metrics, /docs."""
    try:
        from rankwise.server import ServerSettings, create_app
        from rankwise.server.connections import ConnectionLimits
        from rankwise.server.serve import read_api_keys, run
    except ImportError as e:
        raise ModelNotAvailableError(
            f"rankwise serve needs the 'serve' extra ({e.name} is missing): pip install 'rankwise[serve]'"
        ) from None

    served = served_models(model, method, adapter, options)
    settings = ServerSettings(
        model_name=served[0].name,
        max_documents=max_documents,
        max_query_chars=max_query_chars,
        max_document_chars=max_document_chars,
        max_batch_pairs=max_batch_pairs,
        max_wait_ms=max_wait_ms,
        max_queue_pairs=max_queue_pairs,
        api_keys=read_api_keys(api_key_file),
        max_body_bytes=max_body_bytes,
        body_timeout=body_timeout,
        request_timeout=request_timeout or None,
        public_docs=public_docs,
        cors_origins=tuple(cors_origin),
        max_json_values=max_json_values,
        max_json_depth=max_json_depth,
        max_metadata_values=max_metadata_values,
        max_inflight_bytes=max_inflight_bytes,
        max_body_senders=max_body_senders,
        log_requests=log_requests,
        log_sample=log_sample,
    )
    application = create_app(served, settings)
    limits = ConnectionLimits(
        max_connections=max_connections,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        min_body_rate=min_body_rate,
    )
    run(application, host, port, drain_seconds=drain_seconds, limits=limits, shutdown_grace=shutdown_grace)


SERVED_NAME = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._/-]*)=(?P<model>[^=].*)$")


def served_models(models: list[str], method: str | None, adapters: list[str], options: dict) -> list[Any]:
    """What `serve --model ... --adapter ...` serves: each model under its name (NAME=MODEL, else the text
    given), loaded at startup with the shared method and options; the adapters ride on the first."""
    from rankwise.api import Reranker
    from rankwise.server import ModelToServe

    named: dict[str, str] = {}
    for adapter_text in adapters:
        match = SERVED_NAME.match(adapter_text)
        if match is None:
            raise InputError(f"--adapter {adapter_text!r}: write it NAME=FOLDER (e.g. legal=runs/legal/adapter)")
        named[match["name"]] = match["model"]
    if adapters and "adapters" in options:
        raise OptionError("adapters given twice (--adapter and -O adapters=); give them one way")
    served = []
    for position, text in enumerate(models):
        match = SERVED_NAME.match(text)
        name, spec = (match["name"], match["model"]) if match else (text, text)
        extra = {"adapters": named} if named and position == 0 else {}

        def load(spec: str = spec, extra: dict = extra) -> Any:
            return Reranker.load(spec, method=method, **options, **extra)

        served.append(ModelToServe(name, load, tuple(named) if position == 0 else ()))
    return served


@app.command()
@reports_errors
@takes_reranker_flags
def replay(
    traffic: Path = typer.Argument(..., help="The folder `serve --log-requests` wrote."),
    model: str = MODEL_FLAG,
    method: Optional[str] = METHOD_FLAG,
    k: int = typer.Option(10, min=1, help="Overlap of the served and the replayed top k."),
    queries: Optional[int] = typer.Option(None, help="Only the first N logged requests."),
    export_candidates: Optional[Path] = typer.Option(
        None, help="Also write the logged requests as a candidate file (for `rankwise judge --input`)."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the summary and rows as JSON."),
    options: Optional[dict] = None,
) -> None:
    """Rerank logged traffic with another reranker and compare with what was served: overlap@k, Kendall's tau
    and latency, before switching to it."""
    from rankwise.api import Reranker
    from rankwise.io.traffic import read_traffic
    from rankwise.pipelines import replay as replaying

    records = read_traffic(traffic)[:queries]
    if export_candidates is not None:
        replaying.export_candidates(records, export_candidates)
        console.print(f"{len(records)} logged requests written as candidates to {export_candidates}")
    with console.status(f"loading {model}"):
        reranker = Reranker.load(model, method=method, **options)
    with progress_bar("replaying") as bar:
        report = replaying.replay(reranker, records, k=k, on_progress=bar)
    table = Table(title=f"{model} on {len(records)} logged requests")
    table.add_column("measure")
    table.add_column("value")
    for name, value in report.summary().items():
        table.add_row(name, "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    if output is not None:
        rows = [dataclasses.asdict(row) for row in report.rows]
        output.write_text(json.dumps({"summary": report.summary(), "rows": rows}, indent=2) + "\n", encoding="utf-8")


@app.command()
@reports_errors
@takes_reranker_flags
def mcp(
    model: str = MODEL_FLAG,
    method: Optional[str] = METHOD_FLAG,
    transport: str = typer.Option(
        "stdio",
        help="stdio (for a client that starts this command), or streamable-http (a server at http://HOST:PORT/mcp).",
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind (streamable-http)."),
    port: int = typer.Option(8000, help="Port to bind (streamable-http)."),
    max_documents: int = typer.Option(1000, help="Documents per call."),
    max_document_chars: int = typer.Option(32768, help="Characters of a document that are scored."),
    options: Optional[dict] = None,
) -> None:
    """Serve a reranker to MCP clients: a `rerank` tool and a `models` resource (the `mcp` extra)."""
    if transport not in ("stdio", "streamable-http"):
        raise InputError(f"--transport must be stdio or streamable-http, not {transport!r}")
    try:
        import mcp as _sdk  # noqa: F401

        from rankwise.server.mcp import create_mcp_server, run_mcp
        from rankwise.server.state import ServerSettings
    except ImportError as e:
        raise ModelNotAvailableError(
            f"rankwise mcp needs the 'mcp' extra ({e.name} is missing): pip install 'rankwise[mcp]'"
        ) from None
    from rankwise.api import Reranker

    reranker = Reranker.load(model, method=method, **options)
    settings = ServerSettings(model_name=model, max_documents=max_documents, max_document_chars=max_document_chars)
    run_mcp(create_mcp_server(reranker, model, settings), transport, host=host, port=port)  # type: ignore[arg-type]


app.add_typer(train_app, name="train")
app.add_typer(judge_app, name="judge")
app.command("label")(label)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())

"""`rankwise train ...` and `rankwise label`: training data, teacher labels and training runs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import typer

from rankwise.cli.common import (
    METHOD_FLAG,
    console,
    errors,
    parse_options,
    progress_bar,
    reports_errors,
    takes_reranker_flags,
)
from rankwise.errors import OptionError
from rankwise.io.collection import FIRST_STAGES
from rankwise.options import validate_options

train_app = typer.Typer(no_args_is_help=True, help="Build training data and train rerankers.")


# Each trainer's config, declared with option(...) in its module (imported only when its options are listed).
TRAINING_CONFIGS = {
    "first": "rankwise.pipelines.train.first:FirstTrainingConfig",
    "bi-encoder": "rankwise.pipelines.train.bi_encoder:BiEncoderTrainingConfig",
    "late-interaction": "rankwise.pipelines.train.late_interaction:LateInteractionTrainingConfig",
    "cross-encoder": "rankwise.pipelines.train.cross_encoder:CrossEncoderTrainingConfig",
    "grpo": "rankwise.pipelines.train.grpo:GRPOTrainingConfig",
    "synthetic-queries": "rankwise.pipelines.train.synthetic:SyntheticQueryConfig",
    "corpus-sampling": "rankwise.pipelines.train.corpus_sampling:CorpusSampling",
}


def _options_help(trainer: str) -> str:
    return f"Training option KEY=VALUE, repeatable; `rankwise train options {trainer}` lists them."


def _config_class(trainer: str) -> type:
    import importlib

    if trainer not in TRAINING_CONFIGS:
        raise OptionError(f"unknown trainer {trainer!r}; available: {', '.join(TRAINING_CONFIGS)}")
    module, name = TRAINING_CONFIGS[trainer].split(":")
    return getattr(importlib.import_module(module), name)


@train_app.command("options")
@reports_errors
def options(trainer: str = typer.Argument(..., help=f"One of {', '.join(TRAINING_CONFIGS)}.")) -> None:
    """A trainer's -O options with their types, defaults and help (from the config's declarations)."""
    from rich.table import Table

    from rankwise.options import option_docs

    table = Table(title=f"options of train {trainer} (-O KEY=VALUE)")
    for column in ("option", "type", "default", "help"):
        table.add_column(column, overflow="fold")
    for doc in option_docs(_config_class(trainer)):
        table.add_row(doc.name, doc.type, doc.default, doc.help)
    console.print(table)


def _held_out(held_out: list[Path]):
    from rankwise.pipelines.train.data import HeldOut

    return HeldOut.from_collections(held_out)


TRAIN_HELP = (
    "Training data, any format (formats.py): a collection folder, JSONL triples {query, positive, "
    "negatives} or lists {query, passages, labels|scores}, a BEIR or TREC folder, a saved datasets "
    "folder, or irds:ID; repeatable."
)


def _read_sources(sources: list[Path], held, judged_only: bool):
    from rankwise.pipelines.train.formats import read_training_data

    groups, dropped = [], 0
    for source in sources:
        report = read_training_data(source, held_out=held, judged_only_queries=judged_only)
        groups += report.groups
        dropped += report.dropped_queries
    if dropped:
        errors.print(f"{dropped} held-out queries left out of the training data")
    return groups


DEV_HELP = (
    "Dev data in any --train format, evaluated during training (nDCG@10 every --eval-steps; the best "
    "checkpoint is the model kept); held-out collections are refused here too; repeatable."
)


# One declaration for every trainer that evaluates during training.
DEV_OPTION = typer.Option([], help=DEV_HELP)
EVAL_STEPS_OPTION = typer.Option(50, min=1, help="Optimizer steps between dev evaluations (with --dev).")
PATIENCE_OPTION = typer.Option(
    0, min=0, help="Stop after this many dev evaluations without a better nDCG@10 (0: never)."
)


def _dev(dev: list[Path], held, eval_steps: int, patience: int):
    from rankwise.pipelines.train.dev import DevEvaluation

    if not dev:
        if patience:
            raise OptionError("--patience stops on the dev nDCG@10: give --dev")
        return None
    return DevEvaluation(_read_sources(dev, held, judged_only=True), every=eval_steps, patience=patience)


def _judged_groups(collection: list[Path], held):
    return [g for g in _read_sources(collection, held, judged_only=True) if g.judged]


def _training_groups(collection: list[Path], held, groups_files: list[Path], teacher_labels: list[str] = ()):
    """Every query of the collections (judged: grades; unjudged: teacher scores) plus the groups of the given
    JSONL files, all without held-out content; `KEY=PATH` label files add their scores under KEY."""
    from rankwise.pipelines.train.data import read_groups, without_held_out
    from rankwise.pipelines.train.teacher import attach_teacher_labels, read_teacher_labels

    named = []
    for pair in teacher_labels:
        key, sep, path = pair.partition("=")
        if not sep or not key.strip() or not path.strip():
            raise OptionError(f"--teacher-labels {pair!r} is not KEY=PATH (e.g. llm=labels.jsonl)")
        named.append((key.strip(), Path(path.strip())))
    groups = _read_sources(collection, held, judged_only=False)
    groups += without_held_out([group for path in groups_files for group in read_groups(path)], held).groups
    for key, path in named:
        attached, left_out = attach_teacher_labels(groups, read_teacher_labels(path), key, source=str(path))
        errors.print(
            f"{path}: {attached} passages labelled under {key!r}; {left_out} labels left out (held-out "
            "or not among the training queries' candidates)"
        )
    return groups


def _summary(record) -> str:
    summary = (
        f"{record.steps} steps on {record.examples} examples from {record.queries} queries in {record.seconds:.0f} s"
    )
    dev = record.config.get("dev") if isinstance(record.config, dict) else None
    if dev:
        first = dev["evaluations"][0]
        summary += (
            f"; dev nDCG@10 {first['ndcg@10']:.4f} at step {first['step']}, best "
            f"{dev['best_ndcg@10']:.4f} (the model kept)"
        )
    return summary


_TEACHER_LABELS_HELP = (
    "Teacher labels from `rankwise label`, as KEY=PATH; select them with -O teacher=KEY (unjudged queries); repeatable."
)


@train_app.command("data")
@reports_errors
def build_data(
    collection: list[Path] = typer.Option(..., help="Collection folder (topics, qrels, *_top100.json); repeatable."),
    out: Path = typer.Option(..., help="JSONL of query groups to write."),
    held_out: list[Path] = typer.Option(
        [], help="Collection never to train on (e.g. ../shared/data/dl19); repeatable."
    ),
    judged_only: bool = typer.Option(False, help="Leave out queries without any judgment."),
) -> None:
    """Pool every first stage's candidates per query with grades and first-stage ranks (one JSON line per query)."""
    from rankwise.pipelines.train.data import build_query_groups, write_groups

    report = build_query_groups(collection, held_out=_held_out(held_out), judged_only_queries=judged_only)
    write_groups(report.groups, out)
    judged = sum(len(g.judged) for g in report.groups)
    console.print(
        f"{len(report.groups)} queries, {sum(len(g.docs) for g in report.groups)} passages "
        f"({judged} judged) written to {out}; held out: {report.dropped_queries} queries, "
        f"{report.dropped_passages} passages dropped"
    )


@train_app.command("fusion")
@reports_errors
def train_fusion_command(
    collection: list[Path] = typer.Option(
        ...,
        "--train",
        "--collection",
        help=TRAIN_HELP + " Judged queries only; "
        "outside a collection folder, the file's passage order is the first "
        "stage's ranking.",
    ),
    out: Path = typer.Option(..., help="Fusion model folder to write."),
    stage: list[str] = typer.Option(
        ["embedding-prf:minilm-embed"], help="Feature stage 'method:model' or 'method:model@head'; repeatable."
    ),
    first_stage: list[str] = typer.Option(list(FIRST_STAGES), help="Candidate files to train on (collection folders)."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    folds: int = typer.Option(5, help="Query-level cross-validation folds."),
    seed: int = typer.Option(0, help="Seed for folds and LightGBM."),
    param: list[str] = typer.Option([], "--param", "-P", help="LightGBM parameter KEY=VALUE; repeatable."),
) -> None:
    """Learned fusion: LightGBM LambdaMART over reranker scores and first-stage score/rank."""
    from rankwise.pipelines.train.fusion import train_fusion
    from rankwise.rerankers.compose.fusion import FusionSpec, Stage

    stages = []
    for text in stage:
        spec, _, head = text.partition("@")
        method, sep, model = spec.partition(":")
        if not sep:
            raise typer.BadParameter(f"stage {text!r} is not 'method:model'")
        stages.append(Stage(name=method, model=model, method=method, head=int(head) if head else None))
    with progress_bar("features") as bar:
        report = train_fusion(
            FusionSpec(stages, scale_free_gap=True),
            collection,
            out,
            first_stages=first_stage,
            held_out=_held_out(held_out),
            folds=folds,
            seed=seed,
            params=parse_options(param),
            on_progress=bar,
        )
    for source, value in report.cv_ndcg10.items():
        console.print(f"{source}: cross-validated nDCG@10 {value:.4f} ({report.folds} folds, {report.queries} queries)")
    console.print(f"fusion model written to {out} in {report.seconds:.0f} s")


@train_app.command("first")
@reports_errors
def train_first_command(
    model: str = typer.Option(..., "--model", "-m", help="Causal LM to fine-tune (registered name or path)."),
    collection: list[Path] = typer.Option(..., "--train", "--collection", help=TRAIN_HELP),
    out: Path = typer.Option(..., help="Folder for the LoRA adapter, checkpoints and the loss log."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    window: int = typer.Option(10, help="Passages per training window."),
    steps: int = typer.Option(100, help="Optimizer steps."),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("first"),
    ),
    dev: list[Path] = DEV_OPTION,
    eval_steps: int = EVAL_STEPS_OPTION,
    patience: int = PATIENCE_OPTION,
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in --out."),
) -> None:
    """FIRST training: LoRA on a causal LM with L = L_LM + lambda * weighted RankNet on first-identifier logits."""
    from rankwise.pipelines.train.first import FirstTrainingConfig, train_first

    held = _held_out(held_out)
    groups = _judged_groups(collection, held)
    config = validate_options(
        FirstTrainingConfig, "FIRST training", {"window": window, "steps": steps, **parse_options(option)}
    )
    evaluation = _dev(dev, held, eval_steps, patience)
    with progress_bar("FIRST training") as bar:
        record = train_first(
            model,
            groups,
            out,
            config,
            resume=resume,
            held_out=held,
            dev=evaluation,
            on_progress=bar,
        )
    console.print(
        f"{_summary(record)} ({record.seconds_per_step:.1f} s/step); adapter in {record.output}; "
        f"loss log {out / 'log.csv'}"
    )


@reports_errors
@takes_reranker_flags
def label(
    model: str = typer.Option(..., "--model", "-m", help="Teacher reranker (registered name, path or spec)."),
    method: Optional[str] = METHOD_FLAG,
    input: Path = typer.Option(..., "--input", "-i", help="Candidate file to label."),
    output: Path = typer.Option(..., "--output", "-o", help="Labels JSONL; an existing file is resumed."),
    queries_per_batch: int = typer.Option(1, help="Queries labelled (and flushed) together."),
    options: Optional[dict] = None,
    head_by: Optional[str] = typer.Option(
        None,
        help="Label only each query's head: the candidates this cheaper "
        "reranker (name or spec, e.g. maxsim:minilm-embed) ranks best.",
    ),
    head_k: int = typer.Option(20, help="How many candidates the head holds (with --head-by)."),
) -> None:
    """Teacher labels: score every candidate (or each query's head) with a reranker; killed and rerun, it
    continues where it stopped."""
    from rankwise.api import Reranker
    from rankwise.io import read_candidates
    from rankwise.pipelines.train.teacher import label_with_teacher

    requests = read_candidates(input)
    reranker = Reranker.load(model, method=method, **options)
    head = (Reranker.load(head_by), head_k) if head_by else None
    with progress_bar("labelling") as bar:
        bar(0, total=len(requests))
        count = label_with_teacher(
            reranker,
            requests,
            output,
            queries_per_batch=queries_per_batch,
            on_progress=bar,
            head=head,
        )
    errors.print(f"{count} queries labelled this run; {len(requests)} in {output}")


@train_app.command("bi-encoder")
@reports_errors
def train_bi_encoder_command(
    collection: list[Path] = typer.Option(..., "--train", "--collection", help=TRAIN_HELP),
    out: Path = typer.Option(..., help="Folder for checkpoints, the loss log and the trained model (out/model)."),
    base_model: str = typer.Option("minilm-embed", help="Bi-encoder to start from."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("bi-encoder"),
    ),
    dev: list[Path] = DEV_OPTION,
    eval_steps: int = EVAL_STEPS_OPTION,
    patience: int = PATIENCE_OPTION,
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in --out."),
) -> None:
    """Fine-tune a bi-encoder (both towers) on graded judgments: ListNet/KL over a positive and hard negatives."""
    from rankwise.pipelines.train.bi_encoder import BiEncoderTrainingConfig, train_bi_encoder

    held = _held_out(held_out)
    groups = _judged_groups(collection, held)
    config = validate_options(BiEncoderTrainingConfig, "bi-encoder training", parse_options(option))
    record = train_bi_encoder(
        base_model, groups, out, config, resume=resume, held_out=held, dev=_dev(dev, held, eval_steps, patience)
    )
    console.print(f"{_summary(record)}; model in {record.output} (use it with --method embedding-prf or embedding)")


@train_app.command("late-interaction")
@reports_errors
def train_late_interaction_command(
    collection: list[Path] = typer.Option(
        ..., "--train", "--collection", help=TRAIN_HELP + " Judged: grades; unjudged: the teacher's scores."
    ),
    out: Path = typer.Option(..., help="Folder for checkpoints, the loss log and the trained model (out/model)."),
    base_model: str = typer.Option("minilm-embed", help="Bi-encoder to start from."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    groups_file: list[Path] = typer.Option(
        [], "--groups", help="More training groups (JSONL, e.g. from `train synthetic-queries`); repeatable."
    ),
    teacher_labels: list[str] = typer.Option([], help=_TEACHER_LABELS_HELP),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("late-interaction"),
    ),
    dev: list[Path] = DEV_OPTION,
    eval_steps: int = EVAL_STEPS_OPTION,
    patience: int = PATIENCE_OPTION,
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in --out."),
) -> None:
    """Fine-tune a bi-encoder for MaxSim (late interaction): listwise KL to grades or a teacher's scores."""
    from rankwise.pipelines.train.late_interaction import LateInteractionTrainingConfig, train_late_interaction

    config = validate_options(LateInteractionTrainingConfig, "late-interaction training", parse_options(option))
    held = _held_out(held_out)
    groups = _training_groups(collection, held, groups_file, teacher_labels)
    record = train_late_interaction(
        base_model, groups, out, config, resume=resume, held_out=held, dev=_dev(dev, held, eval_steps, patience)
    )
    use = f"--model {base_model} -O adapter={record.output}" if config.lora_r else f"--model {record.output}"
    console.print(f"{_summary(record)}; use it with --method maxsim {use}")


@train_app.command("cross-encoder")
@reports_errors
def train_cross_encoder_command(
    collection: list[Path] = typer.Option(
        ..., "--train", "--collection", help=TRAIN_HELP + " Judged: grades; unjudged: the teacher's scores."
    ),
    out: Path = typer.Option(..., help="Folder for checkpoints, the loss log and the trained model (out/model)."),
    base_model: str = typer.Option("minilm-embed", help="Encoder whose weights start the cross-encoder."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    groups_file: list[Path] = typer.Option(
        [], "--groups", help="More training groups (JSONL, e.g. from `train synthetic-queries`); repeatable."
    ),
    teacher_labels: list[str] = typer.Option([], help=_TEACHER_LABELS_HELP),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("cross-encoder"),
    ),
    dev: list[Path] = DEV_OPTION,
    eval_steps: int = EVAL_STEPS_OPTION,
    patience: int = PATIENCE_OPTION,
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in --out."),
) -> None:
    """Train a cross-encoder from an encoder's weights with sentence-transformers' CrossEncoderTrainer."""
    from rankwise.pipelines.train.cross_encoder import CrossEncoderTrainingConfig, train_cross_encoder

    config = validate_options(CrossEncoderTrainingConfig, "cross-encoder training", parse_options(option))
    held = _held_out(held_out)
    groups = _training_groups(collection, held, groups_file, teacher_labels)
    record = train_cross_encoder(
        base_model, groups, out, config, resume=resume, held_out=held, dev=_dev(dev, held, eval_steps, patience)
    )
    console.print(f"{_summary(record)}; use it with --method cross-encoder --model {record.output}")


@train_app.command("mine-negatives")
@reports_errors
def mine_negatives_command(
    train: list[Path] = typer.Option(..., "--train", help=TRAIN_HELP),
    model: str = typer.Option(
        "minilm-embed", "--model", "-m", help="Reranker that scores the candidates (a registered name, path or spec)."
    ),
    out: Path = typer.Option(..., help="Triples JSONL to write ({qid, query, positive, negatives})."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    corpus: Optional[Path] = typer.Option(
        None, help="Mine from bm25s's top --depth of this JSONL corpus instead of each query's own candidate pool."
    ),
    depth: int = typer.Option(100, min=1, help="Candidates retrieved per query (with --corpus)."),
    negatives: int = typer.Option(8, min=1, help="Hard negatives kept per positive."),
    margin: float = typer.Option(
        0.0, help="False-negative guard: drop a candidate scored above the query's worst positive minus this margin."
    ),
    guard: bool = typer.Option(True, help="Apply the false-negative guard (--no-guard: keep the top negatives)."),
    skip_top: int = typer.Option(0, min=0, help="Leave out the reranker's first N non-relevant candidates."),
) -> None:
    """Mine hard negatives for each relevant passage with any reranker, dropping likely false negatives."""
    import json

    from rankwise.api import Reranker
    from rankwise.io.documents import read_documents
    from rankwise.pipelines.train.mining import MiningReport, mine_hard_negatives, retrieved_candidates

    held = _held_out(held_out)
    groups = _read_sources(train, held, judged_only=True)
    pools = retrieved_candidates(groups, read_documents(corpus), depth) if corpus is not None else None
    report = MiningReport()
    reranker = Reranker.load(model)
    with open(out, "w", encoding="utf-8") as handle:
        for row in mine_hard_negatives(
            groups,
            reranker,
            negatives=negatives,
            margin=margin if guard else None,
            skip_top=skip_top,
            candidates=pools,
            report=report,
        ):
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    console.print(
        f"{report.positives} triples for {report.queries} queries in {out}; {report.negatives} negatives; "
        f"{report.dropped_as_false_negatives} candidates dropped as likely false negatives; "
        f"{report.queries_without_negatives} queries left without negatives"
    )


@train_app.command("grpo")
@reports_errors
def train_grpo_command(
    model: str = typer.Option(..., "--model", "-m", help="Causal LM to train a LoRA adapter on (name or path)."),
    train: list[Path] = typer.Option(..., "--train", "--collection", help=TRAIN_HELP),
    out: Path = typer.Option(..., help="Folder for the adapter (out/adapter), checkpoints and the reward log."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    format: str = typer.Option("setwise", "--format", help="Prompt format: pointwise, setwise or listwise."),
    steps: int = typer.Option(20, min=1, help="Optimizer steps."),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("grpo"),
    ),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in --out."),
) -> None:
    """GRPO with TRL: format and ranking rewards on rankwise's own pointwise, setwise or listwise prompts."""
    from rankwise.pipelines.train.grpo import FORMATS, GRPOTrainingConfig, train_grpo

    held = _held_out(held_out)
    groups = _judged_groups(train, held)
    config = validate_options(
        GRPOTrainingConfig, "GRPO training", {"format": format, "steps": steps, **parse_options(option)}
    )
    record = train_grpo(model, groups, out, config, resume=resume, held_out=held)
    console.print(
        f"{_summary(record)}; reward log {out / 'log.csv'}; use it with --model {model} --method "
        f"{FORMATS[config.format]} -O adapter={record.output}"
    )


@train_app.command("synthetic-queries")
@reports_errors
def synthetic_queries_command(
    collection: list[Path] = typer.Option(
        [], help="Collection whose candidate pools give the passages; repeatable (or --corpus with --index)."
    ),
    corpus: Optional[Path] = typer.Option(
        None, help="A corpus without queries (JSONL, TSV or BEIR folder): passages sampled across its clusters."
    ),
    index: Optional[Path] = typer.Option(
        None, help="With --corpus: its forward index (`rankwise index --encode`), whose vectors are clustered."
    ),
    examples: Optional[Path] = typer.Option(
        None, help='Few-shot examples, JSONL {"passage": ..., "query": ...} (default: built-in web-search ones).'
    ),
    queries: Path = typer.Option(
        ..., help="JSONL of generated queries, one per sampled passage; an existing file is resumed."
    ),
    out: Path = typer.Option(..., help="JSONL of the kept queries as training groups (for --groups)."),
    generator: str = typer.Option("qwen2.5-coder-0.5b", help="Language model that writes the queries."),
    generator_backend: str = typer.Option("llama.cpp", help="Its backend."),
    encoder: str = typer.Option("minilm-embed", help="Bi-encoder whose MaxSim filters and labels the queries."),
    held_out: list[Path] = typer.Option([], help="Collection never to train on; repeatable."),
    option: list[str] = typer.Option(
        [],
        "--option",
        "-O",
        help=_options_help("synthetic-queries"),
    ),
) -> None:
    """Synthetic training queries: an LLM writes a query per sampled passage, a round trip keeps the good ones."""
    from rankwise.backends.interface import Capability
    from rankwise.backends.registry import locate, open_backend, runtime_options
    from rankwise.io.lines import iter_jsonl
    from rankwise.pipelines.train.data import build_query_groups, write_groups
    from rankwise.pipelines.train.synthetic import (
        FEW_SHOT,
        SyntheticQueryConfig,
        generate_queries,
        read_examples,
        round_trip_groups,
        sample_sources,
    )

    given = parse_options(option)
    if (corpus is None) == (not collection) or (corpus is None) != (index is None):
        raise OptionError("give --collection (judged pools), or --corpus with --index (a corpus without queries)")
    if corpus is not None and index is not None:
        from rankwise.io.corpus import read_corpus
        from rankwise.io.forward_index import ForwardIndex
        from rankwise.pipelines.train.corpus_sampling import CorpusSampling, corpus_vectors, sample_corpus

        names = {f.name for f in dataclasses.fields(CorpusSampling)}
        sampling = validate_options(CorpusSampling, "corpus sampling", {k: v for k, v in given.items() if k in names})
        given = {k: v for k, v in given.items() if k not in names or k == "seed"}
        documents = read_corpus(corpus).documents
        sample = sample_corpus(documents, corpus_vectors(documents, ForwardIndex(index)), sampling)
        groups, sources = sample.groups, sample.sources
        console.print(
            f"{len(sources)} passages sampled across {len(sample.cluster_sizes)} clusters of {len(documents)}"
        )
    config = validate_options(SyntheticQueryConfig, "synthetic queries", given)
    if corpus is None:
        groups = build_query_groups(collection, held_out=_held_out(held_out)).groups
        sources = sample_sources(groups, config)
    few_shot = read_examples(examples) if examples is not None else FEW_SHOT
    lm = open_backend(
        locate(generator, generator_backend),
        runtime_options(backend=generator_backend),
        frozenset({Capability.GENERATE}),
        "synthetic queries",
    )
    with progress_bar("writing queries") as bar:
        bar(0, total=len(sources))
        generate_queries(lm, sources, queries, config, on_progress=bar, examples=few_shot)
    del lm
    embedder = open_backend(
        locate(encoder, None), runtime_options(), frozenset({Capability.TOKEN_EMBED}), "synthetic queries"
    )
    report = round_trip_groups(embedder, groups, [entry for _, entry in iter_jsonl(queries)], config)
    write_groups(report.groups, out)
    console.print(
        f"{report.generated} generated, {report.unusable} unusable, {report.rejected} failed the round "
        f"trip (source passage below rank {config.keep_rank}); {len(report.groups)} kept in {out}"
    )


@train_app.command("recipe")
@reports_errors
def train_recipe_command(
    name: str = typer.Argument(..., help="Recipe name (minilm-fusion-dl21)."),
    data: Path = typer.Option(Path("../shared/data"), help="Folder holding the dl21 and dl19 collections."),
    work: Optional[Path] = typer.Option(None, help="Working folder for checkpoints and logs (default: the cache)."),
    resume: bool = typer.Option(False, help="Continue an interrupted run from its last checkpoint."),
    record_reference: bool = typer.Option(
        False,
        help="Afterwards, record what the rebuilt model scores on three "
        "DL 2019 queries (reference_scores.json, which the tests "
        "check a fresh install against); scored, never trained on.",
    ),
) -> None:
    """Rebuild one of rankwise's own trained models exactly as it was trained, where the registry finds it."""
    from rankwise.pipelines.train.recipes import run_recipe, write_reference_scores

    destination = run_recipe(name, data, work, resume=resume)
    console.print(f"{name} rebuilt in {destination}")
    if record_reference:
        console.print(f"reference scores in {write_reference_scores(name, data)}")

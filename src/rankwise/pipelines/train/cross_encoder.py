"""Training a cross-encoder from a bi-encoder's weights with sentence-transformers' `CrossEncoderTrainer`.

The student is the encoder (MiniLM by default) with a new one-logit head over the pair "query [SEP]
passage". Its examples are listwise samples of a query's candidates (`listwise_sampling`): grades on judged
queries, a teacher's z-scored scores on unjudged ones (SPLADE++'s on DL 2022, the round-trip label on
synthetic queries). The loss is one of sentence-transformers' own, by name:
- `listnet`: cross-entropy from softmax(teacher logits) to softmax(scores), i.e. KL to the teacher;
- `lambdaloss`: LambdaLoss (NDCG-Loss2++) with the teacher logits min-max scaled to relevance 0..3 per list;
- `bce`: binary cross-entropy per pair, the label the teacher logit min-max scaled to 0..1 within its list;
- `margin_mse`: Margin-MSE ("Improving Efficient Neural Ranking Models with Cross-Architecture Knowledge
  Distillation"): the student's margin between the list's best passage and each other regresses to the
  teacher's margin (grades, or the teacher's z-scored scores times `teacher_temperature`).
Checkpoints and `--resume` are the trainer's own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankwise.options import option
from rankwise.pipelines.train.config import EpochTrainingConfig
from rankwise.pipelines.train.data import HeldOut, QueryGroup
from rankwise.pipelines.train.dev import DevEvaluation
from rankwise.pipelines.train.listwise_sampling import ListSample, ListSampling, sample_lists
from rankwise.pipelines.train.run import TrainingRecord, TrainingRun
from rankwise.pipelines.train.st_trainer import dev_summary, fit, history_rows, load_student, trained_parameters


def _scaled(values: Sequence[float], top: float) -> list[float]:
    low, high = min(values), max(values)
    return [top * (v - low) / (high - low) if high > low else 0.0 for v in values]


def _listwise_rows(
    samples: Sequence[ListSample], relevance: Callable[[list[float]], list[float]]
) -> list[dict[str, Any]]:
    return [{"query": s.query, "docs": s.passages, "labels": relevance(s.logits)} for s in samples]


def _pointwise_rows(samples: Sequence[ListSample]) -> list[dict[str, Any]]:
    return [
        {"query": s.query, "passage": text, "label": label}
        for s in samples
        for text, label in zip(s.passages, _scaled(s.logits, 1.0))
    ]


def _margin_rows(samples: Sequence[ListSample]) -> list[dict[str, Any]]:
    """Margin-MSE rows: the sample's best passage by the teacher as `positive`, the others as negatives, and
    the teacher's logits, whose differences are the margins the student's score differences regress to."""
    rows = []
    for s in samples:
        order = sorted(range(len(s.passages)), key=lambda i: -s.logits[i])
        row: dict[str, Any] = {"query": s.query, "positive": s.passages[order[0]]}
        row.update({f"negative_{n}": s.passages[i] for n, i in enumerate(order[1:])})
        row["label"] = [float(s.logits[i]) for i in order]
        rows.append(row)
    return rows


@dataclass(frozen=True)
class LossRecipe:
    description: str
    rows: Callable[[Sequence[ListSample]], list[dict[str, Any]]]
    build: Callable[[Any], Any]  # CrossEncoder -> loss module


def _listnet(model: Any) -> Any:
    from sentence_transformers.cross_encoder.losses import ListNetLoss

    return ListNetLoss(model)


def _lambdaloss(model: Any) -> Any:
    from sentence_transformers.cross_encoder.losses import LambdaLoss

    return LambdaLoss(model)


def _margin_mse(model: Any) -> Any:
    from sentence_transformers.cross_encoder.losses import MarginMSELoss

    return MarginMSELoss(model)


def _neural_ndcg(model: Any) -> Any:
    from rankwise.pipelines.train.neural_ndcg import neural_ndcg_loss

    return neural_ndcg_loss(model)


def _bce(model: Any) -> Any:
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    return BinaryCrossEntropyLoss(model)


LOSSES = {
    "listnet": LossRecipe(
        "ListNetLoss (softmax cross-entropy to the teacher's logits)",
        lambda samples: _listwise_rows(samples, list),
        _listnet,
    ),
    "lambdaloss": LossRecipe(
        "LambdaLoss, NDCG-Loss2++ (teacher logits scaled to relevance 0..3 per list)",
        lambda samples: _listwise_rows(samples, lambda v: _scaled(v, 3.0)),
        _lambdaloss,
    ),
    "neural_ndcg": LossRecipe(
        "NeuralNDCG (Pobrotyn and Bialobrzeski, 2021; allRank's deterministic variant: NeuralSort and Sinkhorn; "
        "teacher logits scaled to relevance 0..3 per list)",
        lambda samples: _listwise_rows(samples, lambda v: _scaled(v, 3.0)),
        _neural_ndcg,
    ),
    "bce": LossRecipe("BinaryCrossEntropyLoss (teacher logits scaled to 0..1 per list)", _pointwise_rows, _bce),
    "margin_mse": LossRecipe(
        "MarginMSELoss (Hofstaetter et al.: score margins of the best passage over each other "
        "regress to the teacher's logit margins)",
        _margin_rows,
        _margin_mse,
    ),
}


@dataclass
class CrossEncoderTrainingConfig(EpochTrainingConfig, ListSampling):
    loss: str = option(
        "listnet", choices=tuple(LOSSES), help="; ".join(f"{k}: {r.description}" for k, r in LOSSES.items())
    )
    lr: float = option(5e-5, minimum=0, help="learning rate")
    batch_size: int = option(4, minimum=1, help="lists per optimizer step")
    max_seq_length: int = option(256, minimum=8, help="tokens per (query, passage) pair")


def train_cross_encoder(
    base_model: str,
    groups: Sequence[QueryGroup],
    out_dir: str | Path,
    config: CrossEncoderTrainingConfig,
    resume: bool = False,
    held_out: HeldOut | None = None,
    dev: DevEvaluation | None = None,
) -> TrainingRecord:
    """Train and write `out_dir/model`, a cross-encoder folder the `cross-encoder` method loads."""
    recipe = LOSSES[config.loss]
    run = TrainingRun(out_dir, resume)
    out = run.out
    rows = recipe.rows(sample_lists(groups, config))
    model = load_student(base_model, config.max_seq_length, config.seed, "cross-encoder training", cross_encoder=True)
    trainer = fit(model, rows, recipe.build(model), run.checkpoints, config, resume, cross_encoder=True, dev=dev)
    destination = out / "model"
    model.save(str(destination))
    run.write_log(history_rows(trainer))
    return run.finish(
        destination,
        trainer="cross-encoder",
        base_model=base_model,
        collections=sorted({g.collection for g in groups}),
        held_out=(held_out or HeldOut()).names(),
        queries=len(groups),
        examples=len(rows),
        steps=trainer.state.global_step,
        loss=recipe.description,
        parameters_trained=trained_parameters(model),
        config={**asdict(config), **dev_summary(trainer)},
    )

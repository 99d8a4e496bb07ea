"""What rankwise's sentence-transformers training runs share: the student's loading and the trainer with
checkpoints, `--resume` and seeds (the run's folder, log and record are `run.TrainingRun`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rankwise.models.resolve import resolve_model
from rankwise.pipelines.train.config import EpochTrainingConfig
from rankwise.pipelines.train.dev import DevEvaluation
from rankwise.pipelines.train.run import require_extra
from rankwise.verbosity import quiet_loading

DEV_METRIC = "eval_dev_ndcg@10"


def load_student(base_model: str, max_seq_length: int, seed: int, purpose: str, cross_encoder: bool = False) -> Any:
    """The SentenceTransformer (or, with `cross_encoder`, the CrossEncoder with a new one-logit head) to train,
    on the CPU, with torch seeded before the head is drawn; `purpose` names the run in the error that says
    what to install."""
    require_extra(("sentence_transformers", "datasets"), "train", purpose)  # `fit` needs datasets: say so first
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer

    torch.manual_seed(seed)
    path = resolve_model(base_model).path
    if cross_encoder:
        with quiet_loading():  # its load report lists the new head's weights as missing: expected here
            model = CrossEncoder(path, num_labels=1, max_length=max_seq_length, device="cpu")
        _pass_cls_through_pooler(model, torch)
        return model
    with quiet_loading():
        model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = max_seq_length
    return model


def _pass_cls_through_pooler(model: Any, torch: Any) -> None:
    """Make the pooler (dense + tanh over the [CLS] state, feeding the new head) start as tanh of [CLS]
    itself. A bi-encoder trained with mean pooling never trained its pooler: all-MiniLM-L6-v2's maps every
    pair to nearly the same vector (output std 0.03), so the head saw no signal and a ListNet run stayed at
    the uniform loss for 230 steps."""
    pooler = getattr(getattr(model, "model", None), "bert", None)
    pooler = getattr(pooler, "pooler", None)
    if pooler is None:
        return  # another architecture: leave its head as the library builds it
    with torch.no_grad():
        pooler.dense.weight.copy_(torch.eye(pooler.dense.weight.shape[0]))
        pooler.dense.bias.zero_()


def fit(
    model: Any,
    rows: list[dict[str, Any]],
    loss: Any,
    checkpoints: Path,
    config: EpochTrainingConfig,
    resume: bool,
    cross_encoder: bool = False,
    dev: DevEvaluation | None = None,
    dev_score: Callable[[Any, str, list[str]], Sequence[float]] | None = None,
) -> Any:
    """Train with sentence-transformers' trainer (its cross-encoder trainer for a `CrossEncoder`); `config`
    gives epochs, lr, batch_size, warmup_ratio, checkpoint_steps and seed; with `dev`, evaluation during
    training (by sentence-transformers' evaluators, or with `dev_score(model, query, passages)` by that
    scoring), the best checkpoint loaded at the end and early stopping. Returns the trainer (its state
    holds the steps, the loss history and the evaluations)."""
    from datasets import Dataset

    if cross_encoder:
        from sentence_transformers.cross_encoder import CrossEncoderTrainer as Trainer
        from sentence_transformers.cross_encoder import CrossEncoderTrainingArguments as Arguments
    else:
        from sentence_transformers import SentenceTransformerTrainer as Trainer
        from sentence_transformers import SentenceTransformerTrainingArguments as Arguments

    evaluation: dict[str, Any] = {}
    callbacks = []
    evaluator = None
    if dev is not None:
        evaluator = dev.evaluator(cross_encoder, dev_score)
        # Checkpoints fall on evaluation steps, so the best one can be the model kept.
        evaluation = {
            "eval_strategy": "steps",
            "eval_steps": dev.every,
            "save_steps": dev.every,
            "load_best_model_at_end": True,
            "metric_for_best_model": DEV_METRIC,
            "greater_is_better": True,
        }
        if dev.patience:
            from transformers import EarlyStoppingCallback

            callbacks.append(EarlyStoppingCallback(early_stopping_patience=dev.patience))
    arguments = Arguments(
        **{
            "output_dir": str(checkpoints),
            "num_train_epochs": config.epochs,
            "per_device_train_batch_size": config.batch_size,
            "learning_rate": config.lr,
            "warmup_steps": warmup_steps(len(rows), config),
            "logging_steps": 5,
            "save_strategy": "steps",
            "save_steps": config.checkpoint_steps,
            "save_total_limit": 2,
            "report_to": [],
            "seed": config.seed,
            "data_seed": config.seed,
            "use_cpu": True,
            **evaluation,
        }
    )
    trainer = Trainer(
        model=model,
        args=arguments,
        train_dataset=Dataset.from_list(rows),
        loss=loss,
        evaluator=evaluator,
        callbacks=callbacks or None,
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    return trainer


def warmup_steps(rows: int, config: EpochTrainingConfig) -> int:
    """`config.warmup_ratio` of the run's optimizer steps, as a whole number of steps: transformers 4 reads a
    `warmup_steps` of 0.1 as 0.1 steps (no warmup) and 5 as a ratio, so the count is passed, never the ratio."""
    import math

    steps = math.ceil(math.ceil(rows / config.batch_size) * config.epochs)
    return math.ceil(steps * config.warmup_ratio) if config.warmup_ratio > 0 else 0


def history_rows(trainer: Any) -> list[dict[str, Any]]:
    """The trainer's logged steps with a loss, as the run's log rows, with the dev nDCG@10 where measured."""
    dev = {e["step"]: e[DEV_METRIC] for e in trainer.state.log_history if DEV_METRIC in e}
    rows = [
        {"step": e.get("step"), "loss": e.get("loss"), "learning_rate": e.get("learning_rate")}
        for e in trainer.state.log_history
        if "loss" in e
    ]
    for row in rows:
        if row["step"] in dev:
            row["dev_ndcg@10"] = dev[row["step"]]
    logged = {row["step"] for row in rows}
    return rows + [
        {"step": step, "loss": None, "dev_ndcg@10": value} for step, value in dev.items() if step not in logged
    ]


def dev_summary(trainer: Any) -> dict[str, Any]:
    """For the run's record: each evaluation's dev nDCG@10 and the checkpoint kept."""
    history = [{"step": e["step"], "ndcg@10": e[DEV_METRIC]} for e in trainer.state.log_history if DEV_METRIC in e]
    if not history:
        return {}
    return {
        "dev": {
            "evaluations": history,
            "best_ndcg@10": trainer.state.best_metric,
            "best_checkpoint": trainer.state.best_model_checkpoint,
        }
    }


def trained_parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

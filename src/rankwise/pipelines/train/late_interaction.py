"""Fine-tuning a bi-encoder for late interaction: MaxSim over its token states, trained listwise.

all-MiniLM-L6-v2 was trained for mean-pooled cosines, yet its token states already rank well with MaxSim
(zero-shot, see `rerankers.late_interaction`). This trains that use directly. Each example is one query
with `group_size` of its candidates; the target is a softmax over teacher logits (grade x `grade_weight`
on judged queries; the z-scored score of a teacher, SPLADE++ by default, times `teacher_temperature` on
unjudged ones such as DL 2022's), and the loss is the KL divergence from it to the softmax of the scaled
MaxSim scores, plus `pooled_weight` times the same on pooled cosines so that the pooled vectors, which the
feedback step uses, stay aligned. sentence-transformers' trainer runs it (checkpoints, resume, seeds);
`lora_r > 0` trains a LoRA adapter (peft) instead of every weight, small enough to ship."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rankwise.options import option
from rankwise.pipelines.train.config import EpochTrainingConfig
from rankwise.pipelines.train.data import HeldOut, QueryGroup
from rankwise.pipelines.train.dev import DevEvaluation
from rankwise.pipelines.train.listwise_sampling import ListSampling, sample_lists
from rankwise.pipelines.train.run import TrainingRecord, TrainingRun, require_extra
from rankwise.pipelines.train.st_trainer import dev_summary, fit, history_rows, load_student, trained_parameters
from rankwise.rerankers.embedding.maxsim import maxsim

LORA_TARGETS = ("query", "key", "value", "dense")


@dataclass
class LateInteractionTrainingConfig(EpochTrainingConfig, ListSampling):
    batch_size: int = option(4, minimum=1, help="query lists per optimizer step")
    maxsim_scale: float = option(20.0, minimum=0, help="MaxSim scores times this are the student's logits")
    pooled_weight: float = option(0.5, minimum=0, help="weight of the pooled-vector loss beside the MaxSim loss")
    pooled_scale: float = option(20.0, minimum=0, help="pooled cosines times this are their logits")
    max_seq_length: int = option(180, minimum=8, help="tokens per text")
    lora_r: int = option(0, minimum=0, help="LoRA rank; 0: every weight trains")


def listwise_groups(groups: Sequence[QueryGroup], config: LateInteractionTrainingConfig) -> list[dict[str, Any]]:
    """(query, d0..dK-1, label) rows, the columns sentence-transformers' trainer passes to the loss."""
    rows = []
    for sample in sample_lists(groups, config, same_size=True):
        row: dict[str, Any] = {"query": sample.query}
        row.update({f"d{i}": text for i, text in enumerate(sample.passages)})
        row["label"] = sample.logits
        rows.append(row)
    return rows


def maxsim_listwise_loss(config: LateInteractionTrainingConfig) -> Callable[[Any], Any]:
    """A factory for the loss module (torch is imported only when training)."""
    import torch

    class MaxSimListwiseLoss(torch.nn.Module):
        def __init__(self, model: Any):
            super().__init__()
            self.model = model
            self.special_ids = torch.tensor(sorted(set(model.tokenizer.all_special_ids)))

        def _content_tokens(self, out: dict[str, Any]) -> tuple[Any, Any]:
            keep = out["attention_mask"].bool() & ~torch.isin(out["input_ids"], self.special_ids)
            return torch.nn.functional.normalize(out["token_embeddings"], dim=-1), keep

        def forward(self, sentence_features: Sequence[dict[str, Any]], labels: Any) -> Any:
            outputs = [self.model(features) for features in sentence_features]
            query_tokens, query_keep = self._content_tokens(outputs[0])
            late, pooled = [], []
            for out in outputs[1:]:
                tokens, keep = self._content_tokens(out)
                similarity = torch.einsum("bqh,bdh->bqd", query_tokens, tokens)
                best = similarity.masked_fill(~keep[:, None, :], -1e4).max(-1).values * query_keep
                late.append(best.sum(-1) / query_keep.sum(-1).clamp(min=1))
                pooled.append(
                    torch.nn.functional.cosine_similarity(
                        outputs[0]["sentence_embedding"], out["sentence_embedding"], dim=-1
                    )
                )
            target = torch.softmax(labels, dim=1)

            def kl(scores: Any) -> Any:
                return torch.nn.functional.kl_div(torch.log_softmax(scores, dim=1), target, reduction="batchmean")

            loss = kl(torch.stack(late, 1) * config.maxsim_scale)
            if config.pooled_weight:
                loss = loss + config.pooled_weight * kl(torch.stack(pooled, 1) * config.pooled_scale)
            return loss

    return MaxSimListwiseLoss


def maxsim_dev_scores(model: Any, query: str, passages: list[str]) -> list[float]:
    """Plain MaxSim (no feedback) of the model under training, the score `maxsim` reranks with: unit
    content-token states, special tokens left out, as in the loss."""
    import torch

    with torch.no_grad():
        out = model(model.tokenize([query] + passages))
    keep = out["attention_mask"].bool() & ~torch.isin(out["input_ids"], torch.tensor(model.tokenizer.all_special_ids))
    tokens = torch.nn.functional.normalize(out["token_embeddings"], dim=-1)
    vectors = [tokens[i][keep[i]].numpy() for i in range(len(passages) + 1)]
    return [maxsim(vectors[0], passage) for passage in vectors[1:]]


def train_late_interaction(
    base_model: str,
    groups: Sequence[QueryGroup],
    out_dir: str | Path,
    config: LateInteractionTrainingConfig,
    resume: bool = False,
    held_out: HeldOut | None = None,
    dev: DevEvaluation | None = None,
) -> TrainingRecord:
    """Train and write `out_dir/model`: full weights, or with `lora_r` only the adapter (adapter_config.json,
    adapter_model.safetensors) over `base_model`'s weights; with `dev`, the MaxSim nDCG@10 on it is measured
    during training and the best checkpoint is the one written."""
    run = TrainingRun(out_dir, resume)
    out = run.out
    rows = listwise_groups(groups, config)
    model = load_student(base_model, config.max_seq_length, config.seed, "late-interaction training")
    if config.lora_r:
        require_extra(("peft",), "train", "LoRA")
        from peft import LoraConfig

        model.add_adapter(
            LoraConfig(
                r=config.lora_r, lora_alpha=2 * config.lora_r, lora_dropout=0.0, target_modules=list(LORA_TARGETS)
            )
        )
    trainer = fit(
        model,
        rows,
        maxsim_listwise_loss(config)(model),
        run.checkpoints,
        config,
        resume,
        dev=dev,
        dev_score=maxsim_dev_scores,
    )
    destination = out / "model"
    if config.lora_r:
        destination.mkdir(parents=True, exist_ok=True)
        model[0].auto_model.save_pretrained(str(destination))  # the adapter alone
    else:
        model.save(str(destination))
    run.write_log(history_rows(trainer))
    return run.finish(
        destination,
        trainer="late-interaction",
        base_model=base_model,
        collections=sorted({g.collection for g in groups}),
        held_out=(held_out or HeldOut()).names(),
        queries=len(groups),
        examples=len(rows),
        steps=trainer.state.global_step,
        loss="KL(teacher softmax || softmax(scale * MaxSim)) + pooled_weight * same on pooled cosine",
        parameters_trained=trained_parameters(model),
        config={**asdict(config), **dev_summary(trainer)},
    )

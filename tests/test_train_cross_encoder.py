"""Cross-encoder training through sentence-transformers' CrossEncoderTrainer: the rows each loss gets, the
pooler start, a clear error for an unknown loss, and a tiny real run that lifts the labelled passage."""

from __future__ import annotations

import json

import pytest

from conftest import data_path
from rankwise.errors import InputError
from rankwise.pipelines.train.cross_encoder import LOSSES, CrossEncoderTrainingConfig, train_cross_encoder
from rankwise.pipelines.train.data import HeldOut, PooledDoc, QueryGroup
from rankwise.pipelines.train.listwise_sampling import sample_lists

TEXTS = [
    "a recipe for sourdough bread",
    "the history of the roman empire",
    "how to tune a guitar",
    "penguins live in antarctica",
    "stock market news today",
    "the rules of chess",
    "zebra stripes and their purpose",
    "volcanoes erupt molten rock",
]
TARGET = "zebra stripes and their purpose"


def _group() -> QueryGroup:
    docs = [PooledDoc(f"d{i}", t, 3 if t == TARGET else (1 if i == 0 else 0)) for i, t in enumerate(TEXTS)]
    return QueryGroup("toy", "q", "bread baking at home", docs)


def test_each_loss_gets_the_rows_its_sentence_transformers_loss_reads():
    config = CrossEncoderTrainingConfig(group_size=8, group_head=1, head=1, examples_per_query=1)
    sample = sample_lists([_group()], config)[0]
    listnet = LOSSES["listnet"].rows([sample])[0]
    assert listnet["query"] == "bread baking at home" and listnet["docs"] == sample.passages
    assert listnet["labels"] == sample.logits
    lambdaloss = LOSSES["lambdaloss"].rows([sample])[0]
    assert dict(zip(lambdaloss["docs"], lambdaloss["labels"]))[TARGET] == 3.0
    assert sorted(lambdaloss["labels"])[:6] == [0.0] * 6 and 1.0 in lambdaloss["labels"]
    bce = {row["passage"]: row["label"] for row in LOSSES["bce"].rows([sample])}
    assert bce[TARGET] == 1.0 and bce[TEXTS[0]] == pytest.approx(1 / 3) and bce[TEXTS[1]] == 0.0


def test_an_unknown_loss_is_refused_before_any_work(tmp_path):
    with pytest.raises(
        InputError, match="option loss='hinge' must be one of listnet, lambdaloss, neural_ndcg, bce, margin_mse"
    ):
        train_cross_encoder("minilm-embed", [_group()], tmp_path, CrossEncoderTrainingConfig(loss="hinge"))
    with pytest.raises(InputError, match="option warmup_ratio=2 must be <= 1"):
        CrossEncoderTrainingConfig(warmup_ratio=2)


def test_the_new_head_reads_a_pooler_that_passes_cls_through():
    import torch

    from rankwise.pipelines.train.st_trainer import load_student

    model = load_student("minilm-embed", 64, 0, "test", cross_encoder=True)
    pooler = model.model.bert.pooler.dense
    assert torch.equal(pooler.weight, torch.eye(384)) and not pooler.bias.any()


def test_a_few_steps_lift_the_labelled_passage(tmp_path):
    from rankwise.api import Reranker
    from rankwise.types import Candidate, Query, Request

    group = _group()
    request = Request(Query("q", group.query), [Candidate(d.docid, d.text) for d in group.docs])
    config = CrossEncoderTrainingConfig(
        group_size=8,
        group_head=1,
        head=1,
        examples_per_query=8,
        epochs=3,
        lr=3e-4,
        batch_size=2,
        checkpoint_steps=100,
        max_seq_length=32,
    )
    held_out = HeldOut.from_collections([data_path("dl19")])
    record = train_cross_encoder("minilm-embed", [group], tmp_path, config, held_out=held_out)
    assert record.steps == 12 and record.loss.startswith("ListNetLoss") and record.trainer == "cross-encoder"
    assert (tmp_path / "log.csv").is_file()
    ranking = Reranker.load(str(tmp_path / "model"), method="cross-encoder").rerank_batch([request])[0]
    assert ranking.docids[0] == "d6"
    assert json.loads((tmp_path / "model" / "training.json").read_text())["held_out"] == ["dl19"]


def test_margin_mse_is_the_mean_squared_gap_between_student_and_teacher_margins():
    """Margin-MSE by hand on MiniLM's cross-encoder start: mean over negatives of
    ((s(q, pos) - s(q, neg)) - (t(pos) - t(neg)))^2, with the rows the trainer builds."""
    import torch

    from rankwise.pipelines.train.st_trainer import load_student

    config = CrossEncoderTrainingConfig(group_size=4, group_head=1, head=1, examples_per_query=1)
    sample = sample_lists([_group()], config)[0]
    row = LOSSES["margin_mse"].rows([sample])[0]
    assert row["positive"] == TARGET and row["label"][0] == max(sample.logits)
    assert row["label"] == sorted(sample.logits, reverse=True)
    model = load_student("minilm-embed", 64, 0, "Margin-MSE test", cross_encoder=True)
    model.eval()
    columns = [key for key in row if key != "label"]
    with torch.no_grad():
        value = LOSSES["margin_mse"].build(model)([[row[c]] for c in columns], torch.tensor([row["label"]])).item()
    scores = model.predict([(row["query"], row[c]) for c in columns[1:]], activation_fn=torch.nn.Identity())
    teacher = row["label"]
    expected = sum(((scores[0] - scores[i]) - (teacher[0] - teacher[i])) ** 2 for i in range(1, len(teacher))) / (
        len(teacher) - 1
    )
    assert value == pytest.approx(float(expected), rel=1e-4)

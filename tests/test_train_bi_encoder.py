"""The bi-encoder trainer: its losses by name, refused before any work when unknown, and a short Margin-MSE run
that writes a loadable model with its record."""

from __future__ import annotations

import json

import pytest

from rankwise.errors import InputError
from rankwise.pipelines.train.bi_encoder import BiEncoderTrainingConfig, train_bi_encoder
from rankwise.pipelines.train.data import PooledDoc, QueryGroup

TEXTS = [
    "Adult fleas live two to three months on a host.",
    "Sourdough needs a starter.",
    "Cats sleep a lot.",
    "Flea eggs hatch within two weeks.",
    "The market opens on Sundays.",
    "Ticks carry disease.",
]


def _group() -> QueryGroup:
    grades = [3, 0, 0, 1, 0, 0]
    return QueryGroup(
        "toy", "q", "how long do fleas live", [PooledDoc(f"d{i}", t, g) for i, (t, g) in enumerate(zip(TEXTS, grades))]
    )


def test_an_unknown_loss_is_refused_before_any_work(tmp_path):
    # the config refuses it as it is built, from Python as from -O loss=hinge
    with pytest.raises(InputError, match="BiEncoderTrainingConfig: option loss='hinge' must be one of kl, margin_mse"):
        train_bi_encoder("minilm-embed", [_group()], tmp_path / "run", BiEncoderTrainingConfig(loss="hinge"))
    assert not (tmp_path / "run").exists()


def test_a_margin_mse_run_writes_a_model_that_reranks(tmp_path):
    from rankwise import Reranker

    config = BiEncoderTrainingConfig(
        loss="margin_mse", negatives=3, batch_size=1, epochs=1, max_seq_length=32, checkpoint_steps=100
    )
    record = train_bi_encoder("minilm-embed", [_group()], tmp_path, config)
    assert record.loss.startswith("MarginMSELoss") and record.steps >= 1
    assert json.loads((tmp_path / "model" / "training.json").read_text())["config"]["loss"] == "margin_mse"
    ranking = Reranker.load(str(tmp_path / "model"), method="embedding").rerank("how long do fleas live", TEXTS)
    assert sorted(ranking.docids) == [str(i) for i in range(len(TEXTS))]

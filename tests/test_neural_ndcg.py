"""NeuralNDCG (issue 40, item 7): the loss and its gradient equal allegro/allRank's on a hand-made padded
batch (tests/reference/allrank_neural_ndcg.json, written by the script beside it from allRank's own code),
and the cross-encoder trainer takes it as `loss=neural_ndcg`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rankwise.pipelines.train.neural_ndcg import neural_ndcg

REFERENCE = json.loads((Path(__file__).parent / "reference" / "allrank_neural_ndcg.json").read_text())


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: f"t{c['temperature']}-k{c['k']}-{c['powered']}")
def test_loss_and_gradient_equal_allranks(case):
    labels = torch.tensor(REFERENCE["labels"])
    scores = torch.tensor(REFERENCE["scores"], requires_grad=True)
    loss = neural_ndcg(scores, labels, labels == -1, case["temperature"], case["k"], case["powered"])
    loss.backward()
    assert loss.item() == pytest.approx(case["loss"], abs=1e-6)
    assert torch.allclose(scores.grad, torch.tensor(case["grad"]), atol=1e-6)


def test_a_better_order_has_a_lower_loss_and_lists_without_relevance_count_for_nothing():
    labels = torch.tensor([[3.0, 2.0, 0.0, 1.0]])
    good = neural_ndcg(torch.tensor([[4.0, 3.0, 1.0, 2.0]]), labels, temperature=0.1)
    bad = neural_ndcg(torch.tensor([[1.0, 2.0, 4.0, 3.0]]), labels, temperature=0.1)
    assert good.item() < bad.item() and good.item() == pytest.approx(-1.0, abs=1e-3)
    assert neural_ndcg(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).item() == 0.0


def test_the_cross_encoder_trainer_offers_it():
    from rankwise.pipelines.train.cross_encoder import LOSSES, CrossEncoderTrainingConfig

    assert "neural_ndcg" in LOSSES
    assert CrossEncoderTrainingConfig(loss="neural_ndcg").loss == "neural_ndcg"


def test_the_cross_encoder_loss_is_neural_ndcg_of_the_models_own_scores():
    """The loss module the trainer builds, on lists of different lengths (padded inside), equals neural_ndcg
    of the model's scores for the same pairs."""
    from rankwise.pipelines.train.cross_encoder import LOSSES
    from rankwise.pipelines.train.st_trainer import load_student

    model = load_student("minilm-embed", 64, 0, "NeuralNDCG test", cross_encoder=True)
    model.eval()
    queries = ["how do fleas jump", "what is sourdough"]
    docs = [["fleas jump with resilin", "bread is baked", "cats carry fleas"], ["a starter of wild yeast", "fleas"]]
    grades = [[3.0, 0.0, 1.0], [2.0, 0.0]]
    with torch.no_grad():
        value = LOSSES["neural_ndcg"].build(model)([queries, docs], [torch.tensor(g) for g in grades]).item()
        flat = model.predict([(q, d) for q, ds in zip(queries, docs) for d in ds], activation_fn=torch.nn.Identity())
    scores = torch.tensor([[*flat[:3]], [*flat[3:], 0.0]], dtype=torch.float32)
    labels = torch.tensor([grades[0], [*grades[1], 0.0]])
    mask = torch.tensor([[False, False, False], [False, False, True]])
    assert value == pytest.approx(neural_ndcg(scores, labels, mask).item(), abs=1e-5)

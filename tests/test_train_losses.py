"""FIRST's objective against numbers computed by hand."""

import math

import pytest
import torch

from rankwise.pipelines.train.first_loss import first_loss, gold_ranks, target_nll, weighted_ranknet_loss


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_gold_ranks_invert_the_order():
    assert gold_ranks([2, 0, 1]) == [2, 3, 1]
    with pytest.raises(ValueError, match="not a permutation"):
        gold_ranks([0, 0, 1])


def test_weighted_ranknet_on_three_passages_by_hand():
    # Gold: position 2 first, then 0, then 1 -> ranks r = [2, 3, 1].
    scores = torch.tensor([0.5, 2.0, -1.0])
    # Pairs (ahead, behind) with weights 1/(r_i + r_j):
    # (2,0): 1/3 * softplus(s0 - s2) ; (2,1): 1/4 * softplus(s1 - s2) ; (0,1): 1/5 * softplus(s1 - s0)
    expected = (softplus(1.5) / 3 + softplus(3.0) / 4 + softplus(1.5) / 5) / 3
    assert weighted_ranknet_loss(scores, [2, 0, 1]).item() == pytest.approx(expected, rel=1e-6)


def test_weighted_ranknet_is_small_when_scores_follow_gold_and_has_gradients():
    right = weighted_ranknet_loss(torch.tensor([10.0, 0.0, -10.0]), [0, 1, 2])
    wrong = weighted_ranknet_loss(torch.tensor([-10.0, 0.0, 10.0]), [0, 1, 2])
    assert right.item() < 1e-3 and wrong.item() > 3.4  # (10/3 + 20/4 + 10/5) / 3
    scores = torch.zeros(4, requires_grad=True)
    weighted_ranknet_loss(scores, [3, 1, 0, 2]).backward()
    # At equal scores the best passage is pushed up hardest and the worst down hardest.
    assert scores.grad.argmin().item() == 3 and scores.grad.argmax().item() == 2


def test_weighted_ranknet_rejects_a_size_mismatch():
    with pytest.raises(ValueError, match="3 scores for a window of 2"):
        weighted_ranknet_loss(torch.zeros(3), [1, 0])


def test_first_loss_combines_lm_nll_and_ranknet_with_lambda():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    targets = torch.tensor([0, 2])
    nll_0 = -math.log(math.exp(2) / (math.exp(2) + 2))
    nll_1 = -math.log(1 / (math.e + 2))
    lm = target_nll(logits, targets)
    assert lm.item() == pytest.approx((nll_0 + nll_1) / 2, rel=1e-6)
    ranknet = weighted_ranknet_loss(torch.tensor([1.0, 0.0]), [0, 1])
    assert ranknet.item() == pytest.approx(softplus(-1.0) / 3, rel=1e-6)
    assert first_loss(lm, ranknet).item() == pytest.approx(lm.item() + 10 * ranknet.item(), rel=1e-6)


def test_warmup_is_passed_as_a_number_of_steps_from_the_ratio():
    """transformers 4 reads warmup_steps=0.1 as 0.1 steps and 5 as a ratio: the trainer passes the step count."""
    from rankwise.pipelines.train.bi_encoder import BiEncoderTrainingConfig
    from rankwise.pipelines.train.st_trainer import warmup_steps

    config = BiEncoderTrainingConfig(epochs=2.0, batch_size=16, warmup_ratio=0.1)
    assert warmup_steps(160, config) == 2  # 10 batches x 2 epochs = 20 steps, 10 % of them
    assert warmup_steps(161, config) == 3  # 11 x 2 = 22 steps -> 2.2 -> 3
    assert warmup_steps(160, BiEncoderTrainingConfig(warmup_ratio=0.0)) == 0


def test_every_trainer_refuses_a_missing_extra_the_same_way(monkeypatch):
    import importlib.util

    from rankwise.errors import UnsupportedMethodError
    from rankwise.pipelines.train.run import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    with pytest.raises(UnsupportedMethodError, match=r"LoRA needs peft: pip install 'rankwise\[train\]'"):
        require_extra(("peft",), "train", "LoRA")


def test_a_run_folder_resumes_only_what_is_there(tmp_path):
    from rankwise.errors import InputError
    from rankwise.pipelines.train.run import TrainingRun

    with pytest.raises(InputError, match="nothing to resume: no checkpoint there"):
        TrainingRun(tmp_path / "fresh", resume=True)
    run = TrainingRun(tmp_path / "run", resume=False, refuse_existing_log=True)
    run.write_log([{"step": 1, "loss": 2.0, "lm_nll": 1.5}, {"step": 2, "loss": 1.0, "lm_nll": 0.5}])
    assert (tmp_path / "run" / "log.csv").read_text().splitlines()[0] == "step,loss,lm_nll"
    with pytest.raises(InputError, match="a training run is already there"):
        TrainingRun(tmp_path / "run", resume=False, refuse_existing_log=True)
    record = run.finish(
        tmp_path / "run" / "model",
        trainer="t",
        base_model="m",
        collections=["dl21"],
        held_out=["dl19"],
        queries=1,
        examples=2,
        steps=2,
        loss="l",
        parameters_trained=3,
    )
    import json

    saved = json.loads((tmp_path / "run" / "model" / "training.json").read_text())
    assert saved["held_out"] == ["dl19"] and saved["output"] == record.output

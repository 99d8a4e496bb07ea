"""FIRST training on SmolLM2-135M: a tiny run moves the identifier scores towards the gold order, and a
run interrupted after a checkpoint resumes with the same data and the same losses."""

import csv
import json

import pytest
import torch

from rankwise.errors import InputError
from rankwise.pipelines.train.data import PooledDoc, QueryGroup
from rankwise.pipelines.train.first import FirstTrainingConfig, train_first, window_loss, window_plan
from rankwise.rerankers.registry import load_reranker

GROUP = QueryGroup(
    "toy",
    "q1",
    "how long do fleas live",
    [
        PooledDoc("a", "Sourdough bread needs a starter that is fed every day.", 0),
        PooledDoc("b", "Adult fleas live two to three months on a host animal.", 3),
        PooledDoc("c", "Fleas are small jumping insects that feed on blood.", 1),
    ],
)
CONFIG = dict(window=3, accumulation=1, lr=1e-3, checkpoint_steps=2, gradient_checkpointing=False, max_words=20)


def ranknet_of(reranker, window):
    with torch.no_grad():
        return window_loss(reranker, window, 10.0)[2].item()


def log_rows(folder):
    return list(csv.DictReader((folder / "log.csv").open()))


@pytest.mark.slow  # 9 s; a FIRST training run is also the NeuralNDCG and resume tests' (by default)
def test_a_tiny_run_moves_scores_towards_the_gold_order(tmp_path):
    config = FirstTrainingConfig(steps=3, **CONFIG)
    window = window_plan([GROUP], config)[0]
    assert [window.docids[p] for p in window.gold_order] == ["b", "c", "a"]
    before = ranknet_of(load_reranker("smollm2-135m", method="first", window=3, stride=3, max_words=20), window)
    record = train_first("smollm2-135m", [GROUP], tmp_path / "run", config)
    assert record.steps == 3 and (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()
    assert (tmp_path / "run" / "loss.png").is_file() and len(log_rows(tmp_path / "run")) == 3
    # The run looks like every other trainer's: the shared log columns and training.json next to the adapter.
    assert list(log_rows(tmp_path / "run")[0])[:2] == ["step", "loss"]
    saved = json.loads((tmp_path / "run" / "adapter" / "training.json").read_text())
    assert saved["trainer"] == "first" and saved["steps"] == 3 and saved["output"] == record.output
    trained = load_reranker(
        "smollm2-135m", method="first", window=3, stride=3, max_words=20, adapter=str(tmp_path / "run" / "adapter")
    )
    after = ranknet_of(trained, window)
    assert after < before


@pytest.mark.slow  # 26 s; the shared TrainingRun resume is checked by test_train_teacher in the default run
def test_resume_after_an_interruption_repeats_the_same_steps(tmp_path):
    config = FirstTrainingConfig(steps=4, **CONFIG)
    train_first("smollm2-135m", [GROUP], tmp_path / "whole", config)

    class Killed(Exception):
        pass

    steps = []

    def die_after_three(advance, total=None, note=""):
        steps.append(advance)
        if sum(steps) == 3:  # step 3 ran but its checkpoint is the one of step 2
            raise Killed

    with pytest.raises(Killed):
        train_first("smollm2-135m", [GROUP], tmp_path / "cut", config, on_progress=die_after_three)
    with pytest.raises(InputError, match="pass --resume"):
        train_first("smollm2-135m", [GROUP], tmp_path / "cut", config)
    train_first("smollm2-135m", [GROUP], tmp_path / "cut", config, resume=True)
    whole, cut = log_rows(tmp_path / "whole"), log_rows(tmp_path / "cut")
    assert [r["step"] for r in cut] == ["1", "2", "3", "4"]
    for a, b in zip(whole, cut):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-3)


DEV = [
    QueryGroup(
        "dev",
        "d1",
        "what do fleas eat",
        [
            PooledDoc("x", "Sourdough bread needs a starter that is fed every day.", 0),
            PooledDoc("y", "Fleas are small jumping insects that feed on blood.", 3),
            PooledDoc("z", "The Roman empire fell in the fifth century.", 0),
        ],
    )
]


@pytest.mark.slow  # two evaluations over dev queries per step (17 s); the trainers' shared dev code runs by default
def test_dev_evaluation_keeps_the_best_adapter_and_stops_on_patience(tmp_path):
    from rankwise.pipelines.train.dev import DevEvaluation
    from rankwise.types import Candidate, Query, Request

    config = FirstTrainingConfig(steps=4, **CONFIG)
    record = train_first("smollm2-135m", [GROUP], tmp_path / "run", config, dev=DevEvaluation(DEV, every=2))
    evaluations = record.config["dev"]["evaluations"]
    assert [e["step"] for e in evaluations] == [2, 4]
    assert "dev_ndcg@10" in (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    best = max(evaluations, key=lambda e: e["ndcg@10"])
    assert record.config["dev"]["best_ndcg@10"] == best["ndcg@10"]
    # The run's adapter is the best one: reranking the dev query with it gives the recorded figure.
    trained = load_reranker("smollm2-135m", method="first", window=3, stride=1, max_words=20, adapter=record.output)

    def score(query, passages):
        request = Request(Query("d", query), [Candidate(str(i), t) for i, t in enumerate(passages)])
        order = trained.rerank_batch([request])[0].docids
        return [-float(order.index(str(i))) for i in range(len(passages))]

    assert DevEvaluation(DEV).ndcg(score) == pytest.approx(best["ndcg@10"])

    # With lr 0 nothing improves after the first evaluation: patience 1 stops the run at the second.
    still = FirstTrainingConfig(steps=6, **{**CONFIG, "lr": 0.0})
    stopped = train_first(
        "smollm2-135m", [GROUP], tmp_path / "still", still, dev=DevEvaluation(DEV, every=1, patience=1)
    )
    assert stopped.steps == 2 and [e["step"] for e in stopped.config["dev"]["evaluations"]] == [1, 2]


def test_the_neural_ndcg_ranking_loss_is_neural_ndcg_of_the_identifier_scores_and_a_run_lowers_it(tmp_path):
    """ranking_loss=neural_ndcg (issue 40 item 7): the window's ranking loss is NeuralNDCG (allRank's, checked
    in test_neural_ndcg.py) of the first-identifier scores FIRST ranks with, over the passages' grades; three
    steps lower it, and training.json names it."""
    from rankwise.pipelines.train.neural_ndcg import neural_ndcg
    from rankwise.rerankers.listwise.sliding_window import Window

    config = FirstTrainingConfig(steps=3, ranking_loss="neural_ndcg", **CONFIG)
    window = window_plan([GROUP], config)[0]
    assert window.grades == [{"a": 0, "b": 3, "c": 1}[d] for d in window.docids]
    reranker = load_reranker("smollm2-135m", method="first", window=3, stride=3, max_words=20)
    scores = reranker.rank_windows([Window(window.query, window.passages)])[0].scores
    expected = neural_ndcg(torch.tensor([scores]), torch.tensor([window.grades], dtype=torch.float)).item()
    with torch.no_grad():
        before = window_loss(reranker, window, 10.0, "neural_ndcg")[2].item()
    assert before == pytest.approx(expected, abs=1e-4) and -1.0 <= before < 0.0
    train_first("smollm2-135m", [GROUP], tmp_path / "run", config)
    trained = load_reranker(
        "smollm2-135m", method="first", window=3, stride=3, max_words=20, adapter=str(tmp_path / "run" / "adapter")
    )
    with torch.no_grad():
        assert window_loss(trained, window, 10.0, "neural_ndcg")[2].item() < before
    saved = json.loads((tmp_path / "run" / "adapter" / "training.json").read_text())
    assert "NeuralNDCG over the grades" in saved["loss"]

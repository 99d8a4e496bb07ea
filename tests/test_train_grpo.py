"""GRPO for LLM rerankers: the rewards on hand-made outputs, the prompts, and a few real TRL steps that
change the LoRA weights and resume from their checkpoint."""

from __future__ import annotations

import json

import pytest

from rankwise.pipelines.train.data import PooledDoc, QueryGroup
from rankwise.pipelines.train.grpo import GRPOTrainingConfig, format_reward, grpo_examples, ndcg_at_10, ranking_reward
from rankwise.rerankers.pairwise.setwise import setwise_prompt


@pytest.mark.parametrize(
    "fmt, text, grades, expected_format, expected_ranking",
    [
        ("setwise", "[C]", [0, 1, 3, 0], 1.0, 1.0),  # the best passage, well formed
        ("setwise", "[B]", [0, 1, 3, 0], 1.0, 1 / 3),  # a middling one: its grade scaled within the set
        ("setwise", "I think [B] or [C]", [0, 1, 3, 0], 0.0, 1 / 3),  # two answers: malformed, the first counts
        ("setwise", "passage two", [0, 1, 3, 0], 0.0, 0.0),  # no identifier at all
        ("setwise", "[E]", [0, 1, 3, 0], 0.0, 0.0),  # not a shown identifier
        ("pointwise", "Yes, it does.", [2], 1.0, 1.0),
        ("pointwise", "no", [3], 1.0, 0.0),
        ("pointwise", "Maybe", [0], 0.0, 0.0),
        ("listwise", "[C] > [B] > [A] > [D]", [0, 1, 3, 0], 1.0, 1.0),
    ],
)
def test_rewards_on_hand_made_outputs(fmt, text, grades, expected_format, expected_ranking):
    assert format_reward(fmt, text, len(grades)) == expected_format
    assert ranking_reward(fmt, text, grades) == pytest.approx(expected_ranking)


def test_a_listwise_ranking_that_misses_passages_is_malformed_and_scored_with_them_appended():
    grades = [0, 1, 3, 0]
    assert format_reward("listwise", "[C] > [B]", 4) == 0.0
    # [C] > [B], then the rest in shown order: A, D.
    assert ranking_reward("listwise", "[C] > [B]", grades) == pytest.approx(ndcg_at_10([2, 1, 0, 3], grades))
    assert ndcg_at_10([2, 1, 0, 3], grades) == 1.0
    worst = ranking_reward("listwise", "[A] > [D] > [B] > [C]", grades)
    assert 0 < worst < ranking_reward("listwise", "[B] > [C] > [A] > [D]", grades) < 1


def _group():
    texts = [
        "fleas live two to three months",
        "bread needs flour",
        "flea eggs hatch in days",
        "cats sleep",
        "adult fleas may live a year",
        "the market opens on sunday",
    ]
    grades = [3, 0, 1, 0, 2, 0]
    return QueryGroup(
        "toy", "q", "how long do fleas live", [PooledDoc(f"d{i}", t, g) for i, (t, g) in enumerate(zip(texts, grades))]
    )


def test_setwise_prompts_are_the_setwise_methods_own():
    config = GRPOTrainingConfig(format="setwise", set_size=3, prompts_per_query=3)
    rows = grpo_examples([_group()], config)
    assert rows and all(len(set(r["grades"])) > 1 for r in rows)
    by_text = {d.text: d.grade for d in _group().docs}
    for row in rows:
        content = row["prompt"][0]["content"]
        shown = [line.split('"')[1] for line in content.split("\n") if line.startswith("Passage [")]
        assert content == setwise_prompt("how long do fleas live", shown, ["A", "B", "C"])
        assert row["grades"] == [by_text[t] for t in shown]


@pytest.mark.slow  # about 2 minutes on 2 quiet cores (5 under load): opt in with -m slow
def test_a_few_grpo_steps_change_the_lora_weights_and_resume(tmp_path):
    """On SmolLM2-135M (a random tiny model answers nothing well formed, so every reward would tie and GRPO,
    which learns from differences within a group, would not move)."""
    pytest.importorskip("trl")
    import torch
    from safetensors.torch import load_file

    from rankwise.pipelines.train.grpo import train_grpo

    config = GRPOTrainingConfig(
        format="setwise",
        set_size=3,
        prompts_per_query=4,
        num_generations=4,
        max_completion_length=6,
        steps=2,
        checkpoint_steps=1,
        lr=5e-3,
        max_words=12,
    )
    out = tmp_path / "grpo"
    record = train_grpo("smollm2-135m", [_group()], out, config)
    assert record.steps == 2 and record.trainer == "grpo"
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    weights = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and any(torch.count_nonzero(v) > 0 for v in lora_b)  # B starts at zero: training moved it
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss") and "reward" in log[0] and len(log) == 3
    resumed = train_grpo(
        "smollm2-135m", [_group()], out, GRPOTrainingConfig(**{**config.__dict__, "steps": 3}), resume=True
    )
    assert resumed.steps == 3
    assert json.loads((out / "adapter" / "training.json").read_text())["steps"] == 3
    # The adapter serves the method whose prompt it was trained on.
    from rankwise import Reranker

    trained = Reranker.load("smollm2-135m", method="setwise", set_size=3, top_n=2, adapter=str(out / "adapter"))
    ranking = trained.rerank("how long do fleas live", [d.text for d in _group().docs])
    assert sorted(ranking.docids) == [str(i) for i in range(6)]


def test_the_wall_clock_limit_stops_at_a_step_end_and_saves():
    from transformers import TrainerControl, TrainerState

    from rankwise.pipelines.train.grpo import _wall_clock_limit

    running, spent = _wall_clock_limit(60.0), _wall_clock_limit(1e-9)
    for limit in (running, spent):
        limit.on_train_begin(None, TrainerState(), TrainerControl())
    assert not running.on_step_end(None, TrainerState(), TrainerControl()).should_training_stop
    control = spent.on_step_end(None, TrainerState(), TrainerControl())
    assert control.should_training_stop and control.should_save

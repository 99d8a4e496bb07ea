"""The settings every trainer shares, declared once with `option(...)` as method options are: a config
made from -O KEY=VALUE or in Python is checked field by field against these declarations when it is built
(`__post_init__`), so no trainer re-checks a value, and `rankwise train ... -O` help can be generated."""

from __future__ import annotations

from dataclasses import dataclass

from rankwise.options import check_declared, option


@dataclass
class TrainingConfig:
    """Every run: a learning rate, a seed for everything drawn, and a checkpoint interval (`--resume`
    continues from the last checkpoint)."""

    lr: float = option(2e-5, minimum=0, help="learning rate")
    seed: int = option(0, help="seed of sampling, initialisation and data order")
    checkpoint_steps: int = option(20, minimum=1, help="optimizer steps between checkpoints")

    def __post_init__(self) -> None:
        check_declared(self, type(self).__name__)


@dataclass
class EpochTrainingConfig(TrainingConfig):
    """A run over the examples for a number of epochs, in batches, with a linear warmup."""

    epochs: float = option(1.0, minimum=0, help="passes over the training examples (fractions allowed)")
    batch_size: int = option(16, minimum=1, help="examples per optimizer step")
    warmup_ratio: float = option(0.1, minimum=0, maximum=1, help="share of the steps with a rising learning rate")


@dataclass
class StepTrainingConfig(TrainingConfig):
    """A run of a fixed number of optimizer steps (the LLM trainers, whose examples are drawn up front)."""

    steps: int = option(100, minimum=1, help="optimizer steps")


@dataclass
class LoraTrainingConfig(StepTrainingConfig):
    """A step-counted run that trains a LoRA adapter over a causal LM (FIRST, GRPO)."""

    lora_r: int = option(8, minimum=1, help="LoRA rank")
    lora_alpha: int = option(16, minimum=1, help="LoRA alpha")

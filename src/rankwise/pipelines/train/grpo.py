"""Reinforcement learning for LLM rerankers: GRPO (Shao et al., 2024, as Rank-R1, ERank and ReasonRank train
their rerankers) with TRL's `GRPOTrainer` and a LoRA adapter over a causal LM.

Each training prompt is one of rankwise's own inference prompts, so the adapter serves the method it was
trained for (`-O adapter=OUT/adapter`):
- `pointwise`: the `llm-pointwise` yes/no prompt over one passage;
- `setwise`: the `setwise` prompt over `set_size` passages [A] [B] ...;
- `listwise`: the `listwise-generate` RankZephyr prompt over `set_size` passages.
The model samples `num_generations` completions per prompt (the group); two rewards score each, and TRL
normalizes them within the group:
- the format reward (1 for a well-formed answer: one yes/no; one shown identifier; every identifier once);
- the ranking reward (pointwise: 1 when yes/no agrees with grade >= `relevance_level`; setwise: the chosen
  passage's grade, min-max scaled within the set; listwise: nDCG@10 of the ranking the output implies, the
  passages it leaves out appended in shown order, against the grades).
The KL weight is `beta`; `max_completion_length` is the budget of generated tokens. Checkpoints and
`--resume` are the trainer's; the reward curve is in the run's log and PNG."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.options import option
from rankwise.pipelines.train.config import LoraTrainingConfig
from rankwise.pipelines.train.data import HeldOut, QueryGroup
from rankwise.pipelines.train.run import TrainingRecord, TrainingRun, require_extra
from rankwise.rerankers.pairwise.setwise import setwise_prompt
from rankwise.rerankers.prompts.listwise import RANK_ZEPHYR, identifiers, parse_permutation
from rankwise.rerankers.prompts.pointwise import RELEVANCE_YES_NO

# Each prompt format and the rankwise method whose prompt it is (the method the adapter serves).
FORMATS = {"pointwise": "llm-pointwise", "setwise": "setwise", "listwise": "listwise-generate"}
_IDENTIFIER = re.compile(r"\[([A-Z])\]")


@dataclass
class GRPOTrainingConfig(LoraTrainingConfig):
    format: str = option("setwise", choices=tuple(FORMATS), help="the prompt and answer the policy learns")
    set_size: int = option(4, minimum=2, help="passages per setwise or listwise prompt")
    prompts_per_query: int = option(4, minimum=1, help="prompts drawn per training query")
    num_generations: int = option(4, minimum=2, help="completions per prompt: the group GRPO normalizes rewards within")
    beta: float = option(0.04, minimum=0, help="KL weight to the reference (the base model)")
    max_completion_length: int = option(16, minimum=1, help="generated tokens per completion")
    temperature: float = option(1.0, minimum=0, help="sampling temperature of the completions")
    steps: int = option(20, minimum=1, help="optimizer steps")
    lr: float = option(1e-4, minimum=0, help="learning rate")
    format_weight: float = option(0.2, minimum=0, help="the format reward's weight; the ranking reward's is 1")
    relevance_level: int = option(2, minimum=1, help="a passage graded at least this is relevant")
    max_words: int = option(60, minimum=1, help="passages are cut to this many words in prompts")
    checkpoint_steps: int = option(5, minimum=1, help="optimizer steps between checkpoints")
    max_minutes: float = option(
        0.0, minimum=0, help="stop (and write the adapter) after this much wall time; 0: run every step"
    )


def completion_text(completion: Any) -> str:
    """TRL hands a conversational completion as a list of messages, a plain one as text."""
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return str(completion)


def yes_no(text: str) -> bool | None:
    words = re.findall(r"[A-Za-z]+", text)
    first = words[0].lower() if words else ""
    return True if first == "yes" else False if first == "no" else None


def format_reward(fmt: str, text: str, size: int) -> float:
    if fmt == "pointwise":
        return 1.0 if yes_no(text) is not None else 0.0
    labels = identifiers("alpha", size)
    named = [m.group(1) for m in _IDENTIFIER.finditer(text)]
    if fmt == "setwise":
        return 1.0 if len(named) == 1 and named[0] in labels else 0.0
    return 1.0 if sorted(named) == labels else 0.0


def ndcg_at_10(order: Sequence[int], grades: Sequence[int]) -> float:
    def dcg(gains: Sequence[int]) -> float:
        return sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(gains[:10]))

    ideal = dcg(sorted(grades, reverse=True))
    return dcg([grades[i] for i in order]) / ideal if ideal > 0 else 0.0


def ranking_reward(fmt: str, text: str, grades: Sequence[int], relevance_level: int = 2) -> float:
    if fmt == "pointwise":
        answer = yes_no(text)
        return 0.0 if answer is None else float(answer == (grades[0] >= relevance_level))
    labels = identifiers("alpha", len(grades))
    if fmt == "setwise":
        named = [m.group(1) for m in _IDENTIFIER.finditer(text) if m.group(1) in labels]
        if not named:
            return 0.0
        low, high = min(grades), max(grades)
        return (grades[labels.index(named[0])] - low) / (high - low) if high > low else 0.0
    return ndcg_at_10(parse_permutation(text, labels), grades)


def _cut(text: str, words: int) -> str:
    return " ".join(text.split()[:words])


def grpo_examples(groups: Sequence[QueryGroup], config: GRPOTrainingConfig) -> list[dict[str, Any]]:
    """Prompt rows `{prompt: [user message], grades}` drawn from the judged passages, the same for the same
    seed; a set's passages have at least two grades, so some answers are better than others."""
    rng = random.Random(config.seed)
    rows = []
    for group in groups:
        judged = group.judged
        if len({d.grade for d in judged}) < 2:
            continue
        for _ in range(config.prompts_per_query):
            if config.format == "pointwise":
                relevant = [d for d in judged if d.grade >= config.relevance_level]
                other = [d for d in judged if d.grade < config.relevance_level]
                pool = relevant if (relevant and (not other or rng.random() < 0.5)) else other
                doc = rng.choice(pool)
                content = RELEVANCE_YES_NO.messages(passage=_cut(doc.text, config.max_words), query=group.query)
                rows.append({"prompt": content, "grades": [int(doc.grade)]})
                continue
            if len(judged) < config.set_size:
                break
            shown = rng.sample(judged, config.set_size)
            if len({d.grade for d in shown}) < 2:
                continue
            labels = identifiers("alpha", config.set_size)
            passages = [_cut(d.text, config.max_words) for d in shown]
            if config.format == "setwise":
                messages = [{"role": "user", "content": setwise_prompt(group.query, passages, labels)}]
            else:
                messages = RANK_ZEPHYR.messages(group.query, labels, passages)
            rows.append({"prompt": messages, "grades": [int(d.grade) for d in shown]})
    rng.shuffle(rows)
    if not rows:
        raise InputError(f"no GRPO prompt: no query has {config.set_size} judged passages of at least two grades")
    return rows


def reward_functions(config: GRPOTrainingConfig) -> list[Any]:
    """The two rewards as TRL calls them: (prompts, completions, grades=[...]) -> one float per completion."""

    def format_reward_(prompts: list, completions: list, grades: list, **_: Any) -> list[float]:
        return [format_reward(config.format, completion_text(c), len(g)) for c, g in zip(completions, grades)]

    def ranking_reward_(prompts: list, completions: list, grades: list, **_: Any) -> list[float]:
        return [
            ranking_reward(config.format, completion_text(c), g, config.relevance_level)
            for c, g in zip(completions, grades)
        ]

    format_reward_.__name__, ranking_reward_.__name__ = "format_reward", "ranking_reward"
    return [format_reward_, ranking_reward_]


def _wall_clock_limit(minutes: float) -> Any:
    """Stop after `minutes` of this process's training (a resumed run gets the limit afresh), at a step's end,
    so the adapter written is the last step's; a CPU user sizes a run by time, not by steps."""
    import time

    from transformers import TrainerCallback

    class WallClockLimit(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            self.deadline = time.monotonic() + minutes * 60

        def on_step_end(self, args: Any, state: Any, control: Any, **_: Any) -> Any:
            if time.monotonic() >= self.deadline:
                control.should_training_stop = True
                control.should_save = True
            return control

    return WallClockLimit()


def train_grpo(
    model: str,
    groups: Sequence[QueryGroup],
    out_dir: str | Path,
    config: GRPOTrainingConfig,
    resume: bool = False,
    held_out: HeldOut | None = None,
) -> TrainingRecord:
    """Train a LoRA adapter with GRPO; writes `out_dir/adapter` (load it with `-O adapter=`)."""
    require_extra(("trl", "peft", "datasets"), "train", "GRPO training")
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from rankwise.models.resolve import resolve_model

    rows = grpo_examples(groups, config)
    run = TrainingRun(out_dir, resume)
    torch.manual_seed(config.seed)
    path = resolve_model(model).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    arguments = GRPOConfig(
        output_dir=str(run.checkpoints),
        per_device_train_batch_size=config.num_generations,
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        temperature=config.temperature,
        beta=config.beta,
        learning_rate=config.lr,
        max_steps=config.steps,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.checkpoint_steps,
        save_total_limit=2,
        report_to=[],
        seed=config.seed,
        data_seed=config.seed,
        use_cpu=True,
        bf16=False,
        reward_weights=[config.format_weight, 1.0],
    )
    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = GRPOTrainer(
        model=base,
        reward_funcs=reward_functions(config),
        args=arguments,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[_wall_clock_limit(config.max_minutes)] if config.max_minutes > 0 else None,
    )
    trainer.train(resume_from_checkpoint=True if resume else None)
    destination = run.out / "adapter"
    trainer.model.save_pretrained(str(destination))
    history = [
        {
            "step": e["step"],
            "loss": e.get("loss"),
            "reward": e.get("reward"),
            "format_reward": e.get("rewards/format_reward/mean"),
            "ranking_reward": e.get("rewards/ranking_reward/mean"),
        }
        for e in trainer.state.log_history
        if "reward" in e
    ]
    run.write_log(history)
    return run.finish(
        destination,
        trainer="grpo",
        base_model=model,
        collections=sorted({g.collection for g in groups}),
        held_out=(held_out or HeldOut()).names(),
        queries=len({g.qid for g in groups}),
        examples=len(rows),
        steps=trainer.state.global_step,
        loss=f"GRPO ({config.format}; format reward x{config.format_weight} + ranking reward, KL beta {config.beta})",
        parameters_trained=sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        config=config,
    )

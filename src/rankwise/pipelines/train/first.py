"""FIRST training with LoRA: windows of judged passages, shown shuffled, target "[C] > [A] > ..." from the
grades; loss L_LM + lambda * weighted RankNet on the first identifier's log-probs, read with exactly the
identifier scheme inference uses (merged "[A" tokens, or "[" then the letter).

Runs are resumable: the whole window sequence is drawn up front from the seed, a checkpoint (adapter,
optimizer, step) is written every `checkpoint_steps` steps, and `resume=True` after a kill continues from
the last one with the same data order. Every step appends to `log.csv`; `loss.png` is drawn at the end.
With `--dev`, every `dev.every` steps the adapter reranks the dev queries (sliding windows of the training
window size, stride half of it) and the best one by nDCG@10 is kept in `best/`, becomes the run's
adapter at the end, and with `patience` stops the run; the evaluations travel in the checkpoint.
Training needs gradients, so this module imports torch (inside its functions), as the other trainers do."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from rankwise.backends.lora import attach_lora, resume_lora, save_lora, training_forward
from rankwise.errors import InputError
from rankwise.options import option
from rankwise.pipelines.progress import OnProgress
from rankwise.pipelines.train.config import LoraTrainingConfig
from rankwise.pipelines.train.data import HeldOut, ListwiseWindow, QueryGroup, sample_windows
from rankwise.pipelines.train.dev import DevEvaluation
from rankwise.pipelines.train.first_loss import DEFAULT_RANKNET_WEIGHT, first_loss, target_nll, weighted_ranknet_loss
from rankwise.pipelines.train.neural_ndcg import neural_ndcg
from rankwise.pipelines.train.run import STATE, TrainingRecord, TrainingRun, replace_folder
from rankwise.rerankers.listwise.llm import FirstReranker
from rankwise.rerankers.listwise.sliding_window import Window
from rankwise.rerankers.registry import load_reranker

CHECKPOINT = "checkpoint"
BEST = "best"
LOG_FIELDS = ("step", "loss", "lm_nll", "ranknet", "seconds")


@dataclass
class FirstTrainingConfig(LoraTrainingConfig):
    window: int = option(10, minimum=2, help="passages per training window")
    accumulation: int = option(4, minimum=1, help="windows per optimizer step")
    lr: float = option(2e-4, minimum=0, help="learning rate")
    ranknet_weight: float = option(
        DEFAULT_RANKNET_WEIGHT, minimum=0, help="weight of the ranking loss on first-identifier logits"
    )
    ranking_loss: Literal["ranknet", "neural_ndcg"] = option(
        "ranknet",
        choices=("ranknet", "neural_ndcg"),
        help="the ranking loss on first-identifier logits: FIRST's position-weighted RankNet, or NeuralNDCG "
        "over the window's grades (allRank's deterministic variant)",
    )
    max_words: int = option(40, minimum=1, help="passages are cut to this many words")
    checkpoint_steps: int = option(10, minimum=1, help="optimizer steps between checkpoints")
    gradient_checkpointing: bool = option(True, help="recompute activations in the backward pass (less memory)")


def window_plan(groups: Sequence[QueryGroup], config: FirstTrainingConfig) -> list[ListwiseWindow]:
    """Every window the run will see, in order: a pure function of the groups and the seed."""
    rng = random.Random(config.seed)
    # A query with fewer judged passages than the window (a triple) is shown whole, in a shorter window.
    eligible = [g for g in groups if len(g.judged) >= 2 and len({d.grade for d in g.judged}) > 1]
    if not eligible:
        raise InputError("no query has 2 or more judged passages of different grades to train on")
    needed = config.steps * config.accumulation
    plan: list[ListwiseWindow] = []
    while len(plan) < needed:
        order = list(eligible)
        rng.shuffle(order)
        for group in order:
            plan += sample_windows(group, min(config.window, len(group.judged)), 1, rng)
    return plan[:needed]


def target_text(labels: Sequence[str], gold_order: Sequence[int]) -> str:
    return " > ".join(f"[{labels[p]}]" for p in gold_order)


def ranking_loss(scores: Any, window: ListwiseWindow, kind: str) -> Any:
    """The ranking loss of one window's identifier scores: weighted RankNet over the gold order, or NeuralNDCG
    over the passages' grades (2^grade - 1 gains, as allRank's default)."""
    if kind == "ranknet":
        return weighted_ranknet_loss(scores, window.gold_order)
    import torch

    if window.grades is None or any(g is None for g in window.grades):
        raise InputError("ranking_loss=neural_ndcg needs every passage of a window graded")
    grades = torch.tensor([window.grades], dtype=scores.dtype, device=scores.device)
    return neural_ndcg(scores.unsqueeze(0), grades)


def window_loss(reranker: FirstReranker, window: ListwiseWindow, ranknet_weight: float, kind: str = "ranknet"):
    """(total, lm_nll, ranking loss) for one window, with gradients."""
    import torch

    lm = reranker.lm
    prompt_ids, labels = reranker.encode_window(Window(window.query, window.passages))
    prompt_text = lm.text.decode(prompt_ids)
    full = lm.encode(prompt_text + target_text(labels, window.gold_order))
    if full[: len(prompt_ids)] != list(prompt_ids):
        raise InputError("the target's first tokens merge with the prompt; FIRST training cannot be exact here")
    eos = lm.tokenizer.eos_token_id
    target_ids = full[len(prompt_ids) :] + ([eos] if eos is not None else [])
    scheme = reranker.scheme(len(labels))
    outputs = training_forward(lm, prompt_ids, target_ids, *scheme.request())
    scores = scheme.fill(torch.empty(len(labels), dtype=outputs.first.dtype), outputs.first, outputs.second)
    lm_nll = target_nll(outputs.target_logits, torch.tensor(target_ids, device=outputs.target_logits.device))
    ranking = ranking_loss(scores, window, kind)
    return first_loss(lm_nll, ranking, ranknet_weight), lm_nll, ranking


def train_first(
    model: str,
    groups: Sequence[QueryGroup],
    out_dir: str | Path,
    config: FirstTrainingConfig,
    resume: bool = False,
    on_progress: OnProgress | None = None,
    held_out: HeldOut | None = None,
    dev: DevEvaluation | None = None,
    **model_options,
) -> TrainingRecord:
    import torch

    run = TrainingRun(out_dir, resume, checkpoints=CHECKPOINT, refuse_existing_log=True)
    out, checkpoint = run.out, run.checkpoints
    torch.manual_seed(config.seed)
    reranker = load_reranker(
        model, method="first", window=config.window, stride=config.window, max_words=config.max_words, **model_options
    )
    plan = window_plan(groups, config)
    start_step = 0
    evaluations: list[dict[str, float]] = []
    if resume:
        resume_lora(reranker.lm, checkpoint, config.gradient_checkpointing)
        state = run.checkpoint_state()
        if state["config"] != asdict(config):
            raise InputError(
                f"the checkpoint was written with other settings: {state['config']}", source=str(checkpoint)
            )
        start_step = state["step"]
        evaluations = _resumed_evaluations(state.get("dev", []), out / BEST, start_step)
        run.logged_rows(after_step=start_step)  # the steps past the checkpoint run again
    else:
        attach_lora(reranker.lm, config.lora_r, config.lora_alpha, gradient_checkpointing=config.gradient_checkpointing)
    trainable = [p for p in reranker.lm.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr)
    if resume:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt"))
    dev_reranker = _dev_reranker(reranker) if dev is not None else None
    steps_run = config.steps
    if on_progress:
        on_progress(start_step, total=config.steps)
    for step in range(start_step, config.steps):
        step_start = time.perf_counter()
        optimizer.zero_grad()
        totals = [0.0, 0.0, 0.0]
        for window in plan[step * config.accumulation : (step + 1) * config.accumulation]:
            loss, lm_nll, ranknet = window_loss(reranker, window, config.ranknet_weight, config.ranking_loss)
            (loss / config.accumulation).backward()
            for i, value in enumerate((loss, lm_nll, ranknet)):
                totals[i] += value.item() / config.accumulation
        optimizer.step()
        run.append_log(
            LOG_FIELDS, [step + 1, *(round(v, 5) for v in totals), round(time.perf_counter() - step_start, 2)]
        )
        stop = False
        evaluated = dev is not None and ((step + 1) % dev.every == 0 or step + 1 == config.steps)
        if evaluated:
            stop = _evaluate(dev, dev_reranker, step + 1, evaluations, out / BEST)
        if evaluated or (step + 1) % config.checkpoint_steps == 0 or step + 1 == config.steps:
            _save_checkpoint(run, reranker, optimizer, step + 1, config, evaluations)
        if on_progress:
            on_progress(1, note=f"loss {totals[0]:.3f}")
        if stop:
            steps_run = step + 1
            break
    if evaluations:
        import shutil

        shutil.rmtree(out / "adapter", ignore_errors=True)
        shutil.copytree(out / BEST, out / "adapter")  # the best adapter is the run's
    else:
        save_lora(reranker.lm, out / "adapter")
    # The log was appended step by step (so a resumed run continues it); it ends in the shared shape.
    rows = run.logged_rows()
    measured = {int(e["step"]): e["ndcg@10"] for e in evaluations}
    for row in rows:
        if row["step"] in measured:
            row["dev_ndcg@10"] = measured[row["step"]]
    run.write_log(rows)
    dev_record = {}
    if evaluations:
        best = max(evaluations, key=lambda e: e["ndcg@10"])
        dev_record = {
            "dev": {
                "evaluations": evaluations,
                "best_ndcg@10": best["ndcg@10"],
                "best_checkpoint": f"step {int(best['step'])}",
            }
        }
    return run.finish(
        out / "adapter",
        trainer="first",
        base_model=model,
        collections=sorted({g.collection for g in groups}),
        held_out=(held_out or HeldOut()).names(),
        queries=len(groups),
        examples=len(plan),
        steps=steps_run,
        loss=f"LM loss + {config.ranknet_weight} x "
        + ("position-weighted RankNet" if config.ranking_loss == "ranknet" else "NeuralNDCG over the grades")
        + " on first-identifier logits",
        parameters_trained=sum(p.numel() for p in trainable),
        config={**asdict(config), **dev_record},
    )


def _dev_reranker(reranker: FirstReranker) -> FirstReranker:
    """The reranker under training, sliding its window with half-window overlap (training loads it with
    stride = window, which never moves a passage between windows)."""
    import copy

    dev_reranker = copy.copy(reranker)  # shares the model, so it measures the adapter as it trains
    dev_reranker.stride = max(1, reranker.window // 2)
    return dev_reranker


def _evaluate(
    dev: DevEvaluation, reranker: FirstReranker, step: int, evaluations: list[dict[str, float]], best_folder: Path
) -> bool:
    """Measure the dev nDCG@10 at `step`, keep the adapter in `best_folder` when it is the best so far;
    True when `dev.patience` evaluations in a row brought nothing better."""
    import torch

    from rankwise.types import Candidate, Query, Request

    def score(query: str, passages: list[str]) -> list[float]:
        request = Request(Query("dev", query), [Candidate(str(i), text) for i, text in enumerate(passages)])
        order = reranker.rerank_batch([request])[0].docids
        return [-float(order.index(str(i))) for i in range(len(passages))]  # the ranking, as scores

    model = reranker.lm.model
    model.eval()
    with torch.no_grad():
        value = dev.ndcg(score)
    model.train()
    before = max((e["ndcg@10"] for e in evaluations), default=None)
    evaluations.append({"step": step, "ndcg@10": value})
    if before is None or value > before:

        def write_best(folder: Path) -> None:
            save_lora(reranker.lm, folder)
            (folder / STATE).write_text(json.dumps({"step": step, "ndcg@10": value}))

        replace_folder(best_folder, write_best)
        return False
    if not dev.patience:
        return False
    since_best = len(evaluations) - 1 - max(range(len(evaluations)), key=lambda i: evaluations[i]["ndcg@10"])
    return since_best >= dev.patience


def _resumed_evaluations(saved: list[dict[str, float]], best_folder: Path, step: int) -> list[dict[str, float]]:
    """The checkpoint's evaluations, plus the kept best one when a kill fell between saving it and saving
    the checkpoint (it is a real adapter of this run and its measured figure)."""
    evaluations = [e for e in saved if e["step"] <= step]
    state = best_folder / STATE
    if state.exists():
        best = json.loads(state.read_text())
        if best["step"] > step:
            evaluations.append({"step": best["step"], "ndcg@10": best["ndcg@10"]})
    return evaluations


def _save_checkpoint(
    run: TrainingRun,
    reranker: FirstReranker,
    optimizer,
    step: int,
    config: FirstTrainingConfig,
    evaluations: Sequence[dict[str, float]] = (),
) -> None:
    """Adapter, optimizer and step, as the run's checkpoint (a kill leaves the old one whole)."""
    import torch

    def write(folder: Path) -> None:
        save_lora(reranker.lm, folder)
        torch.save(optimizer.state_dict(), folder / "optimizer.pt")

    run.save_checkpoint(write, {"step": step, "config": asdict(config), "dev": list(evaluations)})

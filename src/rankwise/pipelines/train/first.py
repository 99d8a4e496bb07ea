"""FIRST training with LoRA: windows of judged passages, shown shuffled, target "[C] > [A] > ..." from the
grades; loss L_LM + lambda * weighted RankNet on the first identifier's log-probs, read with exactly the
identifier scheme inference uses (merged "[A" tokens, or "[" then the letter).

Runs are resumable: the whole window sequence is drawn up front from the seed, a checkpoint (adapter,
optimizer, step) is written every `checkpoint_every` steps, and `resume=True` after a kill continues from
the last one with the same data order. Every step appends to `log.csv`; `loss.png` is drawn at the end.
With `--dev`, every `dev.every` steps the adapter reranks the dev queries (sliding windows of the training
window size, stride half of it) and the best one by nDCG@10 is kept in `best/`, becomes the run's
adapter at the end, and with `patience` stops the run; the evaluations travel in the checkpoint.
Training needs gradients, so this module imports torch (inside its functions), as the other trainers do."""

from __future__ import annotations

import csv
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from rankwise.backends.lora import attach_lora, resume_lora, save_lora, training_forward
from rankwise.errors import InputError
from rankwise.pipelines.train.data import HeldOut, ListwiseWindow, QueryGroup, sample_windows
from rankwise.pipelines.train.dev import DevEvaluation
from rankwise.pipelines.train.first_loss import DEFAULT_RANKNET_WEIGHT, first_loss, target_nll, weighted_ranknet_loss
from rankwise.pipelines.train.run import TrainingRecord, TrainingRun
from rankwise.rerankers.listwise.llm import FirstReranker
from rankwise.rerankers.listwise.sliding_window import Window
from rankwise.rerankers.registry import load_reranker

CHECKPOINT = "checkpoint"
BEST = "best"
LOG_FIELDS = ("step", "loss", "lm_nll", "ranknet", "seconds")


@dataclass
class FirstTrainingConfig:
    window: int = 10
    steps: int = 100
    accumulation: int = 4  # windows per optimizer step
    lr: float = 2e-4
    lora_r: int = 8
    lora_alpha: int = 16
    ranknet_weight: float = DEFAULT_RANKNET_WEIGHT
    max_words: int = 40
    seed: int = 0
    checkpoint_every: int = 10
    gradient_checkpointing: bool = True


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


def window_loss(reranker: FirstReranker, window: ListwiseWindow, ranknet_weight: float):
    """(total, lm_nll, ranknet) for one window, with gradients."""
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
    ranknet = weighted_ranknet_loss(scores, window.gold_order)
    return first_loss(lm_nll, ranknet, ranknet_weight), lm_nll, ranknet


def train_first(
    model: str,
    groups: Sequence[QueryGroup],
    out_dir: str | Path,
    config: FirstTrainingConfig,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
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
        state = json.loads((checkpoint / "state.json").read_text())
        if state["config"] != asdict(config):
            raise InputError(
                f"the checkpoint was written with other settings: {state['config']}", source=str(checkpoint)
            )
        start_step = state["step"]
        evaluations = _resumed_evaluations(state.get("dev", []), out / BEST, start_step)
        _truncate_log(out / "log.csv", start_step)
    else:
        attach_lora(reranker.lm, config.lora_r, config.lora_alpha, gradient_checkpointing=config.gradient_checkpointing)
    trainable = [p for p in reranker.lm.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr)
    if resume:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt"))
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    dev_reranker = _dev_reranker(reranker) if dev is not None else None
    steps_run = config.steps
    with open(log_path, "a", newline="", encoding="utf-8") as log_file:
        writer = csv.writer(log_file)
        if new_log:
            writer.writerow(LOG_FIELDS)
        for step in range(start_step, config.steps):
            step_start = time.perf_counter()
            optimizer.zero_grad()
            totals = [0.0, 0.0, 0.0]
            for window in plan[step * config.accumulation : (step + 1) * config.accumulation]:
                loss, lm_nll, ranknet = window_loss(reranker, window, config.ranknet_weight)
                (loss / config.accumulation).backward()
                for i, value in enumerate((loss, lm_nll, ranknet)):
                    totals[i] += value.item() / config.accumulation
            optimizer.step()
            writer.writerow([step + 1, *(f"{v:.5f}" for v in totals), f"{time.perf_counter() - step_start:.2f}"])
            log_file.flush()
            stop = False
            evaluated = dev is not None and ((step + 1) % dev.every == 0 or step + 1 == config.steps)
            if evaluated:
                stop = _evaluate(dev, dev_reranker, step + 1, evaluations, out / BEST)
            if evaluated or (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
                _save_checkpoint(reranker, optimizer, checkpoint, step + 1, config, evaluations)
            if on_step:
                on_step(step + 1, totals[0])
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
    rows = [
        {k: float(v) if k != "step" else int(v) for k, v in row.items()}
        for row in csv.DictReader(log_path.open(encoding="utf-8"))
    ]
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
        loss=f"LM loss + {config.ranknet_weight} x position-weighted RankNet on first-identifier logits",
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
        import shutil

        temporary = best_folder.with_name(best_folder.name + ".tmp")
        shutil.rmtree(temporary, ignore_errors=True)
        save_lora(reranker.lm, temporary)
        (temporary / "state.json").write_text(json.dumps({"step": step, "ndcg@10": value}))
        shutil.rmtree(best_folder, ignore_errors=True)
        temporary.rename(best_folder)
        return False
    if not dev.patience:
        return False
    since_best = len(evaluations) - 1 - max(range(len(evaluations)), key=lambda i: evaluations[i]["ndcg@10"])
    return since_best >= dev.patience


def _resumed_evaluations(saved: list[dict[str, float]], best_folder: Path, step: int) -> list[dict[str, float]]:
    """The checkpoint's evaluations, plus the kept best one when a kill fell between saving it and saving
    the checkpoint (it is a real adapter of this run and its measured figure)."""
    evaluations = [e for e in saved if e["step"] <= step]
    state = best_folder / "state.json"
    if state.exists():
        best = json.loads(state.read_text())
        if best["step"] > step:
            evaluations.append({"step": best["step"], "ndcg@10": best["ndcg@10"]})
    return evaluations


def _save_checkpoint(
    reranker: FirstReranker,
    optimizer,
    folder: Path,
    step: int,
    config: FirstTrainingConfig,
    evaluations: Sequence[dict[str, float]] = (),
) -> None:
    """Adapter, optimizer and step, written to a temporary folder and renamed, so a kill leaves the old one."""
    import shutil

    import torch

    temporary = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    save_lora(reranker.lm, temporary)
    torch.save(optimizer.state_dict(), temporary / "optimizer.pt")
    (temporary / "state.json").write_text(
        json.dumps({"step": step, "config": asdict(config), "dev": list(evaluations)})
    )
    shutil.rmtree(folder, ignore_errors=True)
    temporary.rename(folder)


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past the checkpoint: those steps are run again."""
    if not path.exists():
        return
    rows = list(csv.reader(path.open(encoding="utf-8")))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(kept)

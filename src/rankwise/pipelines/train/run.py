"""What every training run shares, in one object: its folder, the checkpoints and resume rule, the loss log
(`log.csv`, `loss.png`), and the record (`training.json` next to the trained model) that every trainer
returns in the same shape. `require_extra` is the one way a trainer says what to install."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError

RECORD = "training.json"


def require_extra(modules: Sequence[str], extra: str, purpose: str) -> None:
    """Refuse a run whose libraries are missing, before any work, naming the extra to install."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UnsupportedMethodError(f"{purpose} needs {', '.join(missing)}: pip install 'rankwise[{extra}]'")


@dataclass(frozen=True)
class TrainingRecord:
    trainer: str  # "bi-encoder", "late-interaction", "cross-encoder", "first"
    base_model: str
    output: str  # the trained model, adapter or folder to load
    collections: list[str]
    held_out: list[str]
    queries: int
    examples: int
    steps: int
    seconds: float
    loss: str
    parameters_trained: int
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(self.steps, 1)


class TrainingRun:
    """A run's folder `out`: checkpoints under `out/checkpoints` (or the trainer's own name), resumed only
    when asked and refused when a finished or started run is there and resume was not asked."""

    def __init__(
        self, out: str | Path, resume: bool, checkpoints: str = "checkpoints", refuse_existing_log: bool = False
    ):
        self.out, self.resume = Path(out), resume
        self.checkpoints = self.out / checkpoints
        if resume and not (self.checkpoints.is_dir() and any(self.checkpoints.iterdir())):
            raise InputError("nothing to resume: no checkpoint there", source=str(self.checkpoints))
        # A trainer that appends to its log as it goes (FIRST) would mix two runs in one file.
        if refuse_existing_log and not resume and (self.out / "log.csv").exists():
            raise InputError(
                "a training run is already there; pass --resume to continue it or choose another folder",
                source=str(self.out),
            )
        self.out.mkdir(parents=True, exist_ok=True)
        self.started = time.perf_counter()

    def write_log(self, rows: Sequence[dict[str, Any]]) -> None:
        """`log.csv` (step, loss, then whatever else the trainer logs per step) and `loss.png`."""
        rows = sorted(rows, key=lambda row: row["step"] or 0)
        columns = ["step", "loss"] + sorted({k for row in rows for k in row} - {"step", "loss"})
        with open(self.out / "log.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(c) for c in columns])
        if not rows:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 3.5))
        losses = [r for r in rows if r.get("loss") is not None]
        axis.plot([r["step"] for r in losses], [r["loss"] for r in losses], color="black")
        axis.set_xlabel("optimizer step")
        axis.set_ylabel("training loss")
        for key, label in (("dev_ndcg@10", "dev nDCG@10"), ("reward", "mean reward")):
            points = sorted((r["step"], r[key]) for r in rows if r.get(key) is not None)
            if points:
                right = axis.twinx()
                right.plot([s for s, _ in points], [v for _, v in points], color="tab:blue", marker=".")
                right.set_ylabel(label, color="tab:blue")
        figure.tight_layout()
        figure.savefig(self.out / "loss.png", dpi=120)
        plt.close(figure)

    def finish(self, destination: Path, **fields: Any) -> TrainingRecord:
        """The run's record, also written to `destination/training.json`."""
        if hasattr(fields.get("config"), "__dataclass_fields__"):
            fields["config"] = asdict(fields["config"])
        record = TrainingRecord(output=str(destination), seconds=round(time.perf_counter() - self.started, 1), **fields)
        destination.mkdir(parents=True, exist_ok=True)
        (destination / RECORD).write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
        return record

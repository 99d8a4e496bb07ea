"""What every training run shares, in one object: its folder, the checkpoints and resume rule, the loss log
(`log.csv`, `loss.png`), and the record (`training.json` next to the trained model) that every trainer
returns in the same shape. `require_extra` is the one way a trainer says what to install."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, UnsupportedMethodError

RECORD = "training.json"
STATE = "state.json"


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


def replace_folder(destination: Path, write: Callable[[Path], None]) -> None:
    """Fill a temporary folder with `write` and put it in `destination`'s place, so that a kill at any
    moment leaves either the old folder or the new one whole."""
    import shutil

    temporary = destination.with_name(destination.name + ".tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    write(temporary)
    shutil.rmtree(destination, ignore_errors=True)
    temporary.rename(destination)


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

    def save_checkpoint(self, write: Callable[[Path], None], state: dict[str, Any]) -> None:
        """A checkpoint for trainers that keep their own (FIRST; the others' are their library's): `write`
        fills a folder, `state.json` records `state`, and the folder replaces the last checkpoint whole."""

        def fill(folder: Path) -> None:
            write(folder)
            (folder / STATE).write_text(json.dumps(state), encoding="utf-8")

        replace_folder(self.checkpoints, fill)

    def checkpoint_state(self) -> dict[str, Any]:
        """The last checkpoint's `state` (`resume=True` only)."""
        return json.loads((self.checkpoints / STATE).read_text(encoding="utf-8"))

    def append_log(self, columns: Sequence[str], row: Sequence[Any]) -> None:
        """One step's row of `log.csv`, written as it is measured (a resumed run continues the file; its
        header is written once)."""
        path = self.out / "log.csv"
        new = not path.exists()
        with open(path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(columns)
            writer.writerow(row)

    def logged_rows(self, after_step: int | None = None) -> list[dict[str, Any]]:
        """`log.csv`'s rows as numbers; with `after_step`, the rows past it are dropped from the file first
        (a resumed run runs those steps again)."""
        path = self.out / "log.csv"
        if not path.exists():
            return []
        with open(path, encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [{k: float(v) if k != "step" else int(v) for k, v in row.items()} for row in reader]
            columns = list(reader.fieldnames or [])
        if after_step is not None:
            rows = [row for row in rows if row["step"] <= after_step]
            with open(path, "w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(columns)
                writer.writerows([[row[c] for c in columns] for row in rows])
        return rows

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

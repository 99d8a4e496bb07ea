"""The loss log every training run writes: `log.csv` (step, loss, learning rate) and `loss.png`."""

from __future__ import annotations

import csv
from pathlib import Path


def write_loss_log(out: Path, history: list[dict]) -> None:
    """`history` is the trainer's log entries that carry a loss."""
    with open(out / "log.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("step", "loss", "learning_rate"))
        for entry in history:
            writer.writerow((entry.get("step"), entry.get("loss"), entry.get("learning_rate")))
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([e["step"] for e in history], [e["loss"] for e in history], color="black")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss")
    figure.tight_layout()
    figure.savefig(out / "loss.png", dpi=120)
    plt.close(figure)

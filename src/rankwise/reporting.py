"""Render a run comparison: a Rich table, Markdown, CSV, and a black-and-white-readable PNG."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from rich.table import Table

from rankwise.errors import InputError
from rankwise.pipelines.evaluate import Comparison, RunResult

_SHORT_NAMES = (
    (re.compile(r"^AP\(rel=\d+\)@(\d+)$"), r"MAP@\1"),
    (re.compile(r"^RR\(rel=\d+\)@(\d+)$"), r"MRR@\1"),
    (re.compile(r"^R\(rel=\d+\)@(\d+)$"), r"R@\1"),
)


def display_name(measure: str) -> str:
    """The names people use (MAP@100, MRR@10, R@100) for ir-measures' binary measures at a relevance level."""
    for pattern, short in _SHORT_NAMES:
        if pattern.match(measure):
            return pattern.sub(short, measure)
    return measure


def relevance_note(comparison: Comparison) -> str:
    levels = sorted({m.group(1) for m in (re.search(r"rel=(\d+)", x) for x in comparison.measures) if m})
    return f"binary measures count grade >= {', '.join(levels)}" if levels else ""


def _columns(comparison: Comparison) -> list[str]:
    columns = ["run", *(display_name(m) for m in comparison.measures)]
    if comparison.baseline is not None:
        columns += [
            f"p t-test ({comparison.test_measure})",
            "p randomization",
            "p t (Holm)",
            "p rand. (Holm)",
            "win/tie/loss",
        ]
    return columns + ["s/query"]


def _cells(comparison: Comparison, run: RunResult) -> list[str]:
    cells = [run.label, *(f"{run.means[m]:.4f}" for m in comparison.measures)]
    if comparison.baseline is not None:
        if run.label == comparison.baseline:
            cells += ["baseline", "", "", "", ""]
        else:
            p_values = (run.p_t, run.p_randomization, run.p_t_holm, run.p_randomization_holm)
            cells += [*("-" if p is None else f"{p:.4f}" for p in p_values), "/".join(map(str, run.wins_ties_losses))]
    cost = run.metadata.get("seconds_per_query")
    return cells + [f"{cost:.3f}" if isinstance(cost, (int, float)) else "-"]


def _marker(comparison: Comparison, run: RunResult, alpha: float = 0.05) -> str:
    significant = run.p_t_holm is not None and run.p_t_holm < alpha and run.p_randomization_holm < alpha
    return "*" if significant else ""


def rich_table(comparison: Comparison) -> Table:
    table = Table(
        title=f"{len(comparison.queries)} queries; * = significant vs. baseline on "
        f"{comparison.test_measure} (both tests, Holm-adjusted p < 0.05); {relevance_note(comparison)}"
    )
    for i, column in enumerate(_columns(comparison)):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for run in comparison.runs:
        cells = _cells(comparison, run)
        cells[0] += _marker(comparison, run)
        table.add_row(*cells)
    return table


def markdown(comparison: Comparison) -> str:
    columns = _columns(comparison)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for run in comparison.runs:
        cells = _cells(comparison, run)
        cells[0] += _marker(comparison, run)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(comparison: Comparison) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_columns(comparison))
    for run in comparison.runs:
        writer.writerow(_cells(comparison, run))
    return buffer.getvalue()


def plot(comparison: Comparison, path: str | Path) -> Any:
    """Sorted per-query differences against the baseline, one panel per run, and, when runs carry a cost,
    an effectiveness-vs-cost scatter. Each panel has its own x axis (queries; seconds per query). Returns
    the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = comparison.test_measure
    others = [r for r in comparison.runs if r.label != comparison.baseline] if comparison.baseline else []
    costed = [r for r in comparison.runs if isinstance(r.metadata.get("seconds_per_query"), (int, float))]
    panels = len(others) + (1 if costed else 0)
    if panels == 0:
        raise InputError("nothing to plot: give a baseline (for per-query differences) or runs with cost sidecars")
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.8 * panels), squeeze=False)
    base = next((r for r in comparison.runs if r.label == comparison.baseline), None)
    for ax, run in zip(axes[:, 0], others):
        diffs = sorted(
            run.per_query[measure].get(q, 0.0) - base.per_query[measure].get(q, 0.0) for q in comparison.queries
        )
        colors = ["black" if d >= 0 else "white" for d in diffs]
        ax.bar(range(len(diffs)), diffs, color=colors, edgecolor="black", linewidth=0.6)
        ax.axhline(0, color="black", linewidth=0.8)
        wins, ties, losses = run.wins_ties_losses
        ax.set_title(
            f"{run.label} - {base.label}: {measure} per query (wins {wins}, ties {ties}, losses {losses})", fontsize=9
        )
        ax.set_ylabel(f"delta {measure}")
        ax.set_xlabel(f"{len(diffs)} queries, sorted by delta")
        ax.set_xlim(-0.6, len(diffs) - 0.4)
        ax.set_xticks([])
    if costed:
        ax = axes[-1, 0]
        markers = "osD^v<>P*X"
        for i, run in enumerate(costed):
            ax.scatter(
                run.metadata["seconds_per_query"],
                run.means[measure],
                marker=markers[i % len(markers)],
                facecolor="white" if i % 2 else "black",
                edgecolor="black",
                s=50,
                label=run.label,
            )
        if base is not None and base not in costed:
            ax.axhline(base.means[measure], linestyle="--", color="gray", label=f"{base.label} (no cost recorded)")
        ax.set_xscale("log")
        ax.set_xlabel("seconds per query (log)")
        ax.set_ylabel(measure)
        ax.grid(True, linestyle=":", color="lightgray")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig
    plt.close(fig)

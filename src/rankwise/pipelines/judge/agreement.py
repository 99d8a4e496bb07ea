"""How well two sets of judgments agree (LLM against people, or two people): Cohen's kappa on the grades
and binarized at the relevance level, the confusion matrix, and, given runs, Kendall's tau between the
system orderings each set of judgments implies (UMBRELA's validation: do the labels rank systems as the
human ones do?), with each system's measure under both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io import read_qrels, read_run

GRADES = [0, 1, 2, 3]


@dataclass
class Agreement:
    pairs: int  # judged in both
    kappa: float  # Cohen's kappa over grades 0-3
    kappa_weighted: float  # quadratic weights: a 3 against a 2 disagrees less than a 3 against a 0
    kappa_binary: float  # relevant (grade >= relevance_level) or not
    confusion: list[list[int]]  # rows: grades of A; columns: grades of B
    only_a: int
    only_b: int
    systems: dict[str, tuple[float, float]] = field(default_factory=dict)  # run -> (measure under A, under B)
    tau: float | None = None
    tau_p: float | None = None
    measure: str = "nDCG@10"

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def agreement(
    qrels_a: str | Path,
    qrels_b: str | Path,
    runs: Sequence[str | Path] = (),
    relevance_level: int = 2,
    measure: str = "nDCG@10",
) -> Agreement:
    from sklearn.metrics import cohen_kappa_score, confusion_matrix

    a, b = read_qrels(qrels_a), read_qrels(qrels_b)
    shared = sorted((q, d) for q in a for d in a[q] if d in b.get(q, {}))
    if not shared:
        raise InputError(f"{qrels_a} and {qrels_b} judge no pair in common (same qids and docids?)")
    grades_a = [min(max(a[q][d], 0), 3) for q, d in shared]
    grades_b = [min(max(b[q][d], 0), 3) for q, d in shared]
    binary_a = [int(g >= relevance_level) for g in grades_a]
    binary_b = [int(g >= relevance_level) for g in grades_b]
    result = Agreement(
        pairs=len(shared),
        kappa=_kappa(cohen_kappa_score, grades_a, grades_b),
        kappa_weighted=_kappa(cohen_kappa_score, grades_a, grades_b, weights="quadratic"),
        kappa_binary=_kappa(cohen_kappa_score, binary_a, binary_b),
        confusion=confusion_matrix(grades_a, grades_b, labels=GRADES).tolist(),
        only_a=sum(len(v) for v in a.values()) - len(shared),
        only_b=sum(len(v) for v in b.values()) - len(shared),
        measure=measure,
    )
    if runs:
        result.systems, result.tau, result.tau_p = _system_orderings(a, b, runs, relevance_level, measure)
    return result


def _kappa(score: Any, x: list[int], y: list[int], **options: Any) -> float:
    """Cohen's kappa; 1.0 when both sides give every pair the same single label (sklearn says nan there)."""
    if len(set(x) | set(y)) == 1:
        return 1.0
    return float(score(x, y, **options))


def _system_orderings(
    a: dict, b: dict, runs: Sequence[str | Path], relevance_level: int, measure: str
) -> tuple[dict[str, tuple[float, float]], float | None, float | None]:
    import ir_measures
    from scipy.stats import kendalltau

    parsed = ir_measures.parse_measure(measure)  # a binary measure names its level: P(rel=2)@10
    queries = set(a) & set(b)
    systems = {}
    for path in runs:
        run = {q: docs for q, docs in read_run(path).items() if q in queries}
        under_a = ir_measures.calc_aggregate([parsed], {q: a[q] for q in queries}, run)[parsed]
        under_b = ir_measures.calc_aggregate([parsed], {q: b[q] for q in queries}, run)[parsed]
        systems[Path(path).name] = (float(under_a), float(under_b))
    if len(systems) < 2:
        return systems, None, None
    tau = kendalltau([s[0] for s in systems.values()], [s[1] for s in systems.values()])
    return systems, float(tau.statistic), float(tau.pvalue)


def plot(result: Agreement, path: str | Path, label_a: str = "A", label_b: str = "B") -> Path:
    """The confusion matrix, and (with runs) each system's measure under A against under B."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if result.systems else 1
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    ax.imshow(result.confusion, cmap="Greys")
    for i, row in enumerate(result.confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", color="tab:red")
    ax.set_xticks(GRADES)
    ax.set_yticks(GRADES)
    ax.set_xlabel(f"grade ({label_b})")
    ax.set_ylabel(f"grade ({label_a})")
    ax.set_title(f"{result.pairs} pairs; kappa {result.kappa:.3f}, binary {result.kappa_binary:.3f}", fontsize=9)
    if result.systems:
        ax = axes[0][1]
        xs = [v[0] for v in result.systems.values()]
        ys = [v[1] for v in result.systems.values()]
        ax.scatter(xs, ys)
        for name, (x, y) in result.systems.items():
            ax.annotate(name, (x, y), fontsize=7)
        ax.set_xlabel(f"{result.measure} ({label_a})")
        ax.set_ylabel(f"{result.measure} ({label_b})")
        tau = f"{result.tau:.3f}" if result.tau is not None else "n/a"
        ax.set_title(f"system ordering: Kendall's tau {tau}", fontsize=9)
    figure.tight_layout()
    target = Path(path)
    figure.savefig(target, dpi=120)
    plt.close(figure)
    return target

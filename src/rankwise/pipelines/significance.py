"""Paired significance tests over per-query scores, and Holm-Bonferroni correction across runs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test; 1.0 when the runs do not differ on any query."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _check_paired(x, y)
    if np.allclose(x, y):
        return 1.0
    return float(stats.ttest_rel(x, y).pvalue)


def randomization_test(a: Sequence[float], b: Sequence[float], trials: int = 10000, seed: int = 0) -> float:
    """Two-sided paired randomization (sign-flip) test on the mean difference, as in Smucker et al. (2007).
    Exact over all 2^n sign assignments when n <= 16, else Monte Carlo with `trials` draws (p includes
    the observed assignment, so it is never 0)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _check_paired(x, y)
    diff = x - y
    n = len(diff)
    observed = abs(diff.mean())
    tolerance = 1e-12
    if n <= 16:
        signs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1) * 2 - 1
        means = np.abs((signs * diff).mean(axis=1))
        return float((means >= observed - tolerance).mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(trials, n))
    means = np.abs((signs * diff).mean(axis=1))
    return float(((means >= observed - tolerance).sum() + 1) / (trials + 1))


def holm_bonferroni(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in input order (monotone, capped at 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def win_tie_loss(a: Sequence[float], b: Sequence[float], tolerance: float = 1e-9) -> tuple[int, int, int]:
    """Queries where run a beats, ties, loses to run b."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return int((d > tolerance).sum()), int((np.abs(d) <= tolerance).sum()), int((d < -tolerance).sum())


def _check_paired(x: np.ndarray, y: np.ndarray) -> None:
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired tests need equal-length score lists, got {x.shape} and {y.shape}")
    if len(x) < 2:
        raise ValueError("paired tests need at least two queries")

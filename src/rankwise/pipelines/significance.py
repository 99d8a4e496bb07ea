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
    """Two-sided paired randomization (sign-flip) test on the mean difference (Smucker et al., 2007), via
    scipy's `permutation_test` with paired samples: exact over all 2^n assignments when 2^n <= `trials`,
    else Monte Carlo with `trials` draws (p counts the observed assignment, so it is never 0)."""
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _check_paired(x, y)
    if np.allclose(x, y):
        return 1.0
    result = stats.permutation_test(
        (x, y),
        lambda u, v, axis: np.mean(u - v, axis=axis),
        vectorized=True,
        permutation_type="samples",
        n_resamples=trials,
        alternative="two-sided",
        random_state=seed,
    )
    return float(min(1.0, result.pvalue))


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

"""Rankings from pairwise preferences: P(a beats b) for both orders of every compared pair (`Preferences`),
aggregated into one score per candidate (higher is better). Shared by sparse pairwise reranking
(`pairwise/sparse.py`, which documents each aggregator and its reference) and JointRank's PageRank option."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Pair = tuple[int, int]
Preferences = Mapping[Pair, float]  # P(a beats b), for both orders of every compared pair


def additive(count: int, preferences: Preferences) -> list[float]:
    scores = [0.0] * count
    for (a, b), p in preferences.items():
        scores[a] += p
        scores[b] += 1 - p
    return scores


def greedy(count: int, preferences: Preferences) -> list[float]:
    matrix = np.zeros((count, count))
    for (a, b), p in preferences.items():
        matrix[a, b] = p
    potential = matrix.sum(axis=1) - matrix.sum(axis=0)
    ranks = np.zeros(count, dtype=int)
    for step in range(count):
        chosen = int(np.argmax(np.where(ranks == 0, potential, -np.inf)))
        ranks[chosen] = count - step
        for v in np.where(ranks == 0)[0]:
            potential[v] += matrix[chosen, v] - matrix[v, chosen]
    return ranks.astype(float).tolist()


def kwiksort(count: int, preferences: Preferences) -> list[float]:
    beats = np.zeros((count, count), dtype=np.int64)
    for (a, b), p in preferences.items():
        winner, loser = (a, b) if p >= 0.5 else (b, a)
        beats[winner, loser] = 1

    def sort(members: np.ndarray) -> list[int]:
        if members.size == 0:
            return []
        pivot = members[np.argsort(beats[members, :].sum(axis=1))[members.size // 2]]
        ahead = [j for j in members if j != pivot and beats[j, pivot] >= beats[pivot, j]]
        behind = [j for j in members if j != pivot and beats[j, pivot] < beats[pivot, j]]
        return sort(np.array(ahead, dtype=np.int64)) + [int(pivot)] + sort(np.array(behind, dtype=np.int64))

    order = sort(np.arange(count, dtype=np.int64))
    scores = [0.0] * count
    for rank, item in enumerate(order):
        scores[item] = float(count - rank)
    return scores


def pagerank(count: int, preferences: Preferences, damping: float = 0.85, tol: float = 1e-6) -> list[float]:
    """networkx's PageRank (uniform teleport and dangling mass; at most 100 iterations; stop when the L1 change
    is under count * tol) on the loser -> winner graph."""
    weight = np.zeros((count, count))
    for (a, b), p in preferences.items():
        winner, loser, q = (a, b, p) if p >= 0.5 else (b, a, 1 - p)
        weight[loser, winner] = q
    out = weight.sum(axis=1)
    dangling = out == 0
    transition = np.divide(weight, out[:, None], out=np.zeros_like(weight), where=~dangling[:, None])
    x = np.full(count, 1.0 / count)
    for _ in range(100):
        last = x
        x = damping * (last @ transition + last[dangling].sum() / count) + (1 - damping) / count
        if np.abs(x - last).sum() < count * tol:
            break
    return x.tolist()


def bradley_terry(count: int, preferences: Preferences, penalty: float = 0.01) -> list[float]:
    """Merits m maximizing sum p log sigmoid(m_a - m_b) over the compared (a, b), minus penalty * |m|^2."""
    from scipy.optimize import minimize

    rows = np.array(list(preferences), dtype=int).reshape(-1, 2)
    outcome = np.array(list(preferences.values()), dtype=float)

    def loss(merits: np.ndarray) -> tuple[float, np.ndarray]:
        margin = merits[rows[:, 0]] - merits[rows[:, 1]]
        value = -(outcome * -np.logaddexp(0.0, -margin)).sum() + penalty * (merits**2).sum()
        slope = -outcome * (1 - 1 / (1 + np.exp(-margin)))
        gradient = 2 * penalty * merits
        np.add.at(gradient, rows[:, 0], slope)
        np.add.at(gradient, rows[:, 1], -slope)
        return float(value), gradient

    return minimize(loss, np.zeros(count), jac=True, method="L-BFGS-B").x.tolist()


AGGREGATORS: dict[str, Callable[[int, Preferences], list[float]]] = {
    "additive": additive,
    "bradley-terry": bradley_terry,
    "greedy": greedy,
    "kwiksort": kwiksort,
    "pagerank": pagerank,
}

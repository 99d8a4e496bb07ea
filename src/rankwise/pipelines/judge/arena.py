"""Blind side-by-side votes (GenAI Arena's method): for a query, two rerankers' top lists shown anonymously in
random order, a person picks the better or a tie; votes are an append-only log (`votes.jsonl`, fsynced), and
the leaderboard is a Bradley-Terry fit over all votes (choix's iterative Luce spectral ranking; a tie counts
as a win for each side) with bootstrap confidence intervals, on an Elo-like scale (400 / ln 10 per unit of
log-strength, centred on 1000)."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankwise.errors import InputError
from rankwise.io.resumable import ResumableJsonl

VOTES = "votes.jsonl"
WINNERS = ("left", "right", "tie")
SCALE = 400 / math.log(10)


@dataclass
class Standing:
    model: str
    rating: float
    low: float
    high: float
    votes: int
    wins: float


class Votes:
    def __init__(self, folder: str | Path):
        self.path = Path(folder) / VOTES
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.log = ResumableJsonl(self.path, "vote", key="winner")
        self.votes: list[dict[str, Any]] = self.log.records()

    def vote(self, judge: str, qid: str, left: str, right: str, winner: str) -> dict[str, Any]:
        if winner not in WINNERS:
            raise InputError(f"winner must be left, right or tie, not {winner!r}")
        event = {"judge": judge, "qid": qid, "left": left, "right": right, "winner": winner, "time": time.time()}
        self.log.append([event])
        self.votes.append(event)
        return event


def comparisons(votes: list[dict[str, Any]], models: list[str]) -> list[tuple[int, int]]:
    """(winner, loser) index pairs; a tie gives one each way."""
    index = {m: i for i, m in enumerate(models)}
    pairs = []
    for v in votes:
        a, b = index[v["left"]], index[v["right"]]
        if v["winner"] == "left":
            pairs.append((a, b))
        elif v["winner"] == "right":
            pairs.append((b, a))
        else:
            pairs += [(a, b), (b, a)]
    return pairs


def leaderboard(votes: list[dict[str, Any]], models: list[str], resamples: int = 200, seed: int = 0) -> list[Standing]:
    import choix
    import numpy as np

    def ratings(sample: list[dict[str, Any]]) -> np.ndarray:
        pairs = comparisons(sample, models)
        if not pairs:
            return np.full(len(models), 1000.0)
        strengths = choix.ilsr_pairwise(len(models), pairs, alpha=0.01)
        return 1000.0 + SCALE * (strengths - strengths.mean())

    point = ratings(votes)
    rng = random.Random(seed)
    spread = np.array([ratings([rng.choice(votes) for _ in votes]) for _ in range(resamples)]) if votes else None
    standings = []
    for i, model in enumerate(models):
        mine = [v for v in votes if model in (v["left"], v["right"])]
        wins = sum(0.5 if v["winner"] == "tie" else float(v[v["winner"]] == model) for v in mine)
        low, high = (
            (float(np.percentile(spread[:, i], 2.5)), float(np.percentile(spread[:, i], 97.5)))
            if spread is not None
            else (point[i], point[i])
        )
        standings.append(Standing(model, float(point[i]), low, high, len(mine), wins))
    return sorted(standings, key=lambda s: -s.rating)

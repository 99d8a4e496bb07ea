"""Sparse pairwise reranking (Gienapp et al., "Sparse Pairwise Re-ranking with Pre-trained Transformers",
ICTIR 2022; webis-de/ICTIR-22): compare only a sample of the candidate pairs, within a budget of
`comparisons`, and aggregate the sampled preferences into a ranking.

Samplers (pairs of head positions; the repository's lists run in ascending first-stage score, worst first,
and so do these, which matters for where a window wraps and where a short group falls):

- `windowed`: each candidate against the next `comparisons // k` candidates of that list, wrapping around;
- `grouped`: the list cut into groups of `k // groups` (the fewest groups whose pairs fit the budget), every
  pair within a group and between neighbouring groups;
- `random`: `comparisons` distinct pairs drawn uniformly (seeded; the repository samples a fraction of each
  candidate's pairs instead, with pandas' generator);
- `full`: every pair.

Aggregators, over P(a beats b) for both orders of every compared pair (`PairwiseJudge` asks in both orders,
so P(b beats a) = 1 - P(a beats b)):

- `additive`: each candidate's summed probability of winning its comparisons;
- `greedy`: Cohen, Schapire and Singer's greedy ordering (1999): repeatedly take the candidate whose
  outgoing minus incoming preference is largest;
- `kwiksort`: quicksort on the majority preferences, the pivot the candidate of median row sum (the
  repository's `rowsum` pivot, deterministic);
- `pagerank`: PageRank (damping 0.85) on the graph with an edge from each comparison's loser to its winner,
  weighted by the winner's probability, as networkx computes it;
- `bradley-terry`: Bradley-Terry merits fitted by maximum likelihood to the soft outcomes (the probabilities),
  with a small L2 penalty that fixes their scale. The repository's Bradley-Terry is not reproduced: it
  counts every row as a win of its first item whatever its probability (a tie when p <= 0.1, its threshold
  being overwritten), so with both orders judged the outcomes cancel.

`tests/reference/ictir22_aggregation.json` holds the repository's own outputs for the deterministic samplers
and four aggregators (its `kwiksort` scores are read back into the order it computed: it pairs the order's
items with positions, not each item with its rank)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rankwise.backends.interface import LANGUAGE_MODEL, LanguageModel
from rankwise.errors import UnsupportedMethodError
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.pairwise.prp import A_WORDS, B_WORDS, PairwiseJudge
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pairwise import PRP
from rankwise.rerankers.prompts.shapes import ChatPrompt
from rankwise.types import Ranking, Request, ScoreKind

Pair = tuple[int, int]
Preferences = Mapping[Pair, float]  # P(a beats b), for both orders of every compared pair


def worst_first(count: int) -> list[int]:
    """Head positions (0 = first-stage best) in ascending first-stage score, as the repository orders them."""
    return list(range(count - 1, -1, -1))


def windowed_pairs(count: int, window: int) -> set[Pair]:
    ids = worst_first(count)
    pairs = set()
    for i, a in enumerate(ids):
        for step in range(1, window + 1):
            b = ids[(i + step) % count]
            if a != b:
                pairs.add((min(a, b), max(a, b)))
    return pairs


def grouped_pairs(count: int, groups: int) -> set[Pair]:
    ids = worst_first(count)
    size = max(1, count // min(groups, count))
    chunks = [ids[i : i + size] for i in range(0, count, size)]
    pairs = {(min(a, b), max(a, b)) for chunk in chunks for a, b in itertools.combinations(chunk, 2)}
    for previous, chunk in itertools.pairwise(chunks):
        pairs |= {(min(a, b), max(a, b)) for a in chunk for b in previous}
    return pairs


def all_pairs(count: int) -> set[Pair]:
    return set(itertools.combinations(range(count), 2))


def sampled_pairs(sampler: str, count: int, comparisons: int, seed: int) -> set[Pair]:
    """The unordered pairs `sampler` compares among `count` candidates within `comparisons` pairs."""
    every = all_pairs(count)
    if sampler == "full" or comparisons >= len(every):
        return every
    if sampler == "random":
        return set(random.Random(seed).sample(sorted(every), comparisons))
    if sampler == "windowed":
        return windowed_pairs(count, max(1, comparisons // count))
    fitting = [k for k in range(1, count + 1) if len(grouped_pairs(count, k)) <= comparisons]
    return grouped_pairs(count, min(fitting) if fitting else count)


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
SAMPLERS = ("windowed", "grouped", "random", "full")


@dataclass(frozen=True)
class SparsePairwiseOptions:
    sampler: str = option("windowed", choices=SAMPLERS, help="which pairs are compared (see the method's help)")
    aggregator: str = option("additive", choices=tuple(AGGREGATORS), help="how preferences become a ranking")
    comparisons: int = option(60, minimum=1, help="pairs compared per query (each asked in both orders)")
    top_k: int = option(20, minimum=2, help="candidates compared; the rest follow in first-stage order")
    seed: int = option(0, help="the random sampler's seed")
    prompt: ChatPrompt = option(PRP, named=prompts_of("prp"), help="a prompt name or ChatPrompt")
    max_passage_tokens: int = option(100, minimum=1, help="passages are cut to this many tokens")


class SparsePairwiseReranker(HeadReranker):
    """PRP's both-order comparisons of an LLM on a sample of the pairs, aggregated."""

    score_kind = ScoreKind.ORDINAL
    model_kinds = (CAUSAL_LM,)
    method = "sparse-pairwise"
    requires = LANGUAGE_MODEL
    Options = SparsePairwiseOptions

    def __init__(self, lm: LanguageModel, model_label: str, options: SparsePairwiseOptions):
        super().__init__(model_label)
        self.lm, self.options = lm, options
        self.top_k, self.max_passage_tokens = options.top_k, options.max_passage_tokens
        if not lm.text.single_token_ids(A_WORDS) or not lm.text.single_token_ids(B_WORDS):
            raise UnsupportedMethodError(
                f"{model_label}: the tokenizer has no single-token 'A'/'B', so a "
                "pairwise answer cannot be read from one next-token distribution"
            )

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        options = self.options
        count = len(passages)
        judge = PairwiseJudge(self.lm, options.prompt, request.query.text, passages)
        pairs = sorted(sampled_pairs(options.sampler, count, options.comparisons, options.seed))
        judge.judge(pairs)
        preferences = {}
        for a, b in pairs:
            p = float(1 / (1 + np.exp(-judge.preference(a, b))))
            preferences[(a, b)], preferences[(b, a)] = p, 1 - p
        scores = AGGREGATORS[options.aggregator](count, preferences) if count > 1 else [0.0] * count
        order = sorted(range(count), key=lambda i: (-scores[i], i))
        trace = {
            "score": f"{options.aggregator} aggregation of {len(pairs)} sampled pairwise preferences",
            "comparisons": len(pairs),
            "llm_calls": judge.calls,
            "sampler": options.sampler,
        }
        return Ranking.from_head(request, order, [scores[i] for i in order], trace=trace)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **{k: v for k, v in vars(self.options).items() if k != "prompt"}}

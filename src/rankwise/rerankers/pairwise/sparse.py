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
from dataclasses import dataclass
from typing import Any

from rankwise.backends.interface import LANGUAGE_MODEL, LanguageModel
from rankwise.models.registry import CAUSAL_LM
from rankwise.options import option
from rankwise.rerankers.base import HeadReranker
from rankwise.rerankers.pairwise.prp import PairwiseJudge, require_letter_answers
from rankwise.rerankers.prompts import prompts_of
from rankwise.rerankers.prompts.pairwise import PRP
from rankwise.rerankers.prompts.shapes import ChatPrompt
from rankwise.rerankers.shared.pairwise_aggregation import AGGREGATORS, Pair
from rankwise.types import Ranking, Request, ScoreKind


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
        require_letter_answers(lm, model_label)

    def _rank(self, request: Request, passages: list[str]) -> Ranking:
        options = self.options
        count = len(passages)
        judge = PairwiseJudge(self.lm, options.prompt, request.query.text, passages)
        pairs = sorted(sampled_pairs(options.sampler, count, options.comparisons, options.seed))
        preferences = judge.probabilities(pairs)
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

"""JointRank (block-parallel ranking of large candidate sets): the top k are split into overlapping blocks
that a listwise reranker ranks independently, all in one batch, instead of sliding windows, which must run
one after another. Each block's order gives implicit pairwise wins (a passage beats every passage it
precedes in that block); a passage's score is its win rate over all its comparisons.

Blocks follow a replicated design: replica 0 cuts the first-stage order into contiguous blocks of near-equal
size (at most `block_size`), and each further replica cuts a seeded random permutation the same way, so
every passage is in exactly `replicas` blocks and the comparison graph connects blocks of the first
replica. Cost: replicas x ceil(k / block_size) listwise calls per query, all independent.

`aggregator=pagerank` (the paper's other aggregation) scores passages by PageRank instead, on the graph
with an edge from each implicit comparison's loser to its winner, weighted by the share of the blocks
holding both in which the winner came first (`shared/pairwise_aggregation.pagerank`)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, fields
from typing import Any, Literal

from rankwise.backends.interface import LANGUAGE_MODEL
from rankwise.backends.options import RuntimeOptions
from rankwise.models.registry import CAUSAL_LM
from rankwise.models.resolve import ModelLocation
from rankwise.options import option
from rankwise.rerankers.base import BaseReranker
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, Window
from rankwise.rerankers.shared.pairwise_aggregation import pagerank
from rankwise.types import Ranking, Request, ScoreKind


@dataclass(frozen=True)
class JointRankOptions:
    ranker: Literal["first", "listwise-generate"] = option("first", help="the listwise method that ranks blocks")
    block_size: int = option(20, minimum=2, help="passages per block (the listwise prompt's window)")
    replicas: int = option(2, minimum=1, help="blocks each passage appears in")
    top_k: int = option(100, minimum=1, help="only the first stage's top k are reranked")
    seed: int = option(0, help="seed of the random replicas")
    aggregator: Literal["win-rate", "pagerank"] = option(
        "win-rate", help="win-rate: the share of comparisons won; pagerank: PageRank on the loser -> winner graph"
    )


def _chunks(order: list[int], block_size: int) -> list[list[int]]:
    parts = math.ceil(len(order) / block_size)
    base, extra = divmod(len(order), parts)
    blocks, start = [], 0
    for i in range(parts):
        size = base + (i < extra)
        blocks.append(order[start : start + size])
        start += size
    return blocks


def block_design(count: int, block_size: int, replicas: int, seed: int = 0) -> list[list[int]]:
    """Blocks of positions 0..count-1: `replicas` partitions, the first contiguous, the others seeded random."""
    if count == 0:
        return []
    rng = random.Random(seed)
    if count < 2:
        return []  # nothing to compare: a lone candidate keeps its place without a model call
    blocks = _chunks(list(range(count)), block_size)
    if len(blocks) == 1:
        return blocks  # one block already compares everything
    for _ in range(replicas - 1):
        blocks += _chunks(rng.sample(range(count), count), block_size)
    return blocks


def win_rates(count: int, block_orders: list[list[int]]) -> list[float]:
    """Per position, the share of its pairwise comparisons it won; each block order lists positions best first."""
    wins, comparisons = [0] * count, [0] * count
    for order in block_orders:
        for rank, winner in enumerate(order):
            wins[winner] += len(order) - 1 - rank
            comparisons[winner] += len(order) - 1
    return [w / c if c else 0.0 for w, c in zip(wins, comparisons)]


def block_preferences(block_orders: list[list[int]]) -> dict[tuple[int, int], float]:
    """P(a beats b) for every pair that shared a block: the share of those blocks in which a came first."""
    wins: dict[tuple[int, int], int] = {}
    for order in block_orders:
        for rank, winner in enumerate(order):
            for loser in order[rank + 1 :]:
                wins[(winner, loser)] = wins.get((winner, loser), 0) + 1
                wins.setdefault((loser, winner), 0)
    return {(a, b): won / (won + wins[(b, a)]) for (a, b), won in wins.items()}


class JointRankReranker(BaseReranker):
    top_k: int  # always set: these methods reorder only their first top_k candidates

    method = "jointrank"
    model_kinds = (CAUSAL_LM,)
    # What every block ranker needs; the chosen one (`ranker`) adds its own and checks them when it loads.
    requires = LANGUAGE_MODEL
    score_kind = ScoreKind.ORDINAL  # a win rate: only the order means something
    Options = JointRankOptions

    def __init__(self, ranker: SlidingWindowReranker, model_label: str, options: JointRankOptions):
        super().__init__(model_label)
        self.ranker, self.block_size, self.replicas = ranker, options.block_size, options.replicas
        self.top_k, self.seed, self.aggregator = options.top_k, options.seed, options.aggregator
        self.token_counter = ranker.token_counter

    @classmethod
    def from_model(cls, location: ModelLocation, runtime: RuntimeOptions, **options: Any) -> JointRankReranker:
        from rankwise.rerankers.registry import method_class

        names = {f.name for f in fields(JointRankOptions)}
        own = cls.checked_options({k: options.pop(k) for k in list(options) if k in names})
        # The block ranker takes the runtime and the remaining options (prompt, alphabet, ...); its window is a block.
        ranker = method_class(own.ranker).from_model(
            location, runtime, window=own.block_size, stride=own.block_size, top_k=own.block_size, **options
        )
        assert isinstance(ranker, SlidingWindowReranker)  # `ranker` names first or listwise-generate
        return cls(ranker, location.label, own)

    def _rerank(self, requests: list[Request]) -> list[Ranking]:
        designs = [
            block_design(min(len(r.candidates), self.top_k), self.block_size, self.replicas, self.seed)
            for r in requests
        ]
        windows = [
            Window(r.query.text, [r.candidates[i].text for i in block])
            for r, design in zip(requests, designs)
            for block in design
        ]
        results = iter(self.ranker.rank_windows(windows) if windows else [])
        rankings = []
        for request, design in zip(requests, designs):
            orders = [[block[i] for i in next(results).order] for block in design]
            head = min(len(request.candidates), self.top_k)
            rates = (
                win_rates(head, orders) if self.aggregator == "win-rate" else pagerank(head, block_preferences(orders))
            )
            order = sorted(range(head), key=lambda i: -rates[i])  # stable: ties keep the first-stage order
            rankings.append(
                Ranking.from_head(
                    request,
                    order,
                    [rates[i] for i in order],
                    trace={
                        "blocks": len(design),
                        "llm_calls": len(design),
                        "block_size": self.block_size,
                        "replicas": self.replicas,
                        "aggregator": self.aggregator,
                        "ranker": self.ranker.method,
                    },
                )
            )
        return rankings

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "ranker": self.ranker.method,
            "block_size": self.block_size,
            "replicas": self.replicas,
            "aggregator": self.aggregator,
            "top_k": self.top_k,
            "seed": self.seed,
        }

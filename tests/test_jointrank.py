"""JointRank: the block design, win-rate aggregation, one batched call for all blocks, recovery of a fixed
preference order from a scripted block ranker, and the real method on SmolLM2-135M."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import FLEA_PASSAGES, FLEA_QUERY
from rankwise import OptionError, Reranker
from rankwise.rerankers.listwise.jointrank import JointRankReranker, block_design, win_rates
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, Window, WindowResult
from rankwise.types import Candidate, Query, Request


def test_every_position_sits_in_exactly_replicas_blocks_of_at_most_block_size():
    blocks = block_design(45, block_size=10, replicas=3, seed=7)
    assert len(blocks) == 3 * 5
    assert all(9 <= len(b) <= 10 for b in blocks)  # near-equal sizes: 45 = 9 x 5
    assert Counter(p for b in blocks for p in b) == {p: 3 for p in range(45)}
    assert blocks[:5] == [list(range(i * 9, i * 9 + 9)) for i in range(5)]  # replica 0: first-stage order
    assert blocks == block_design(45, 10, 3, seed=7)
    assert blocks != block_design(45, 10, 3, seed=8)
    assert block_design(6, 10, 3) == [list(range(6))]  # one block compares everything once


def test_win_rates_by_hand():
    # Block [2, 0, 1]: 2 beats 0 and 1, 0 beats 1. Block [1, 3]: 1 beats 3.
    assert win_rates(4, [[2, 0, 1], [1, 3]]) == pytest.approx([1 / 2, 1 / 3, 2 / 2, 0 / 1])


class ScriptedBlocks(SlidingWindowReranker):
    """Ranks a block by a fixed hidden relevance (the number in each passage) and counts calls."""

    method = "scripted"

    def __init__(self):
        super().__init__("scripted", window=10, stride=10)
        self.calls: list[int] = []

    def rank_windows(self, windows: list[Window]) -> list[WindowResult]:
        self.calls.append(len(windows))
        return [
            WindowResult(sorted(range(len(w.passages)), key=lambda i: -int(w.passages[i].split()[1]))) for w in windows
        ]


def _requests(count: int, queries: int = 2) -> list[Request]:
    # Relevance is a permutation unrelated to input order, so a reranker has work to do.
    relevance = [(7 * i + 3) % count for i in range(count)]
    return [
        Request(Query(f"q{q}", "find"), [Candidate(f"d{i}", f"relevance {relevance[i]}") for i in range(count)])
        for q in range(queries)
    ]


def test_all_blocks_of_all_queries_go_in_one_batch_and_the_fixed_order_is_recovered():
    ranker = ScriptedBlocks()
    joint = JointRankReranker.build(ranker, "scripted", block_size=10, replicas=3, top_k=40, seed=0)
    rankings = joint.rerank_batch(_requests(40) + _requests(40)[:1])
    assert ranker.calls == [3 * 4 * 3]  # one call: 3 queries x 4 blocks x 3 replicas
    for ranking in rankings:
        relevance = [int(r.text.split()[1]) for r in ranking.results]
        score = {int(r.text.split()[1]): r.score for r in ranking.results}
        assert score[39] == 1.0 and score[0] == 0.0  # never beaten / never wins
        assert relevance.index(39) < 3  # others never met 39 and tie with it at 1.0
        # Win rates from overlapping blocks are not a total order, but they track it closely.
        inversions = sum(a < b for i, a in enumerate(relevance) for b in relevance[i + 1 :])
        assert inversions < 0.1 * (40 * 39 / 2)
        assert ranking.trace["blocks"] == 12
    again = JointRankReranker.build(ScriptedBlocks(), "scripted", block_size=10, replicas=3, top_k=40, seed=0)
    assert [r.docids for r in again.rerank_batch(_requests(40))] == [r.docids for r in rankings[:2]]


def test_candidates_below_top_k_keep_their_order_under_the_head():
    joint = JointRankReranker.build(ScriptedBlocks(), "scripted", block_size=5, replicas=2, top_k=10)
    ranking = joint.rerank_batch(_requests(14, queries=1))[0]
    assert ranking.docids[10:] == ["d10", "d11", "d12", "d13"]
    assert sorted(ranking.docids[:10]) == sorted(f"d{i}" for i in range(10))


def test_smollm2_jointrank_with_first_ranks_blocks_of_the_real_model():
    joint = Reranker.load("smollm2-135m", method="jointrank", block_size=3, replicas=2, top_k=4)
    request = Request(Query("q", FLEA_QUERY), [Candidate(str(i), p) for i, p in enumerate(FLEA_PASSAGES)])
    ranking = joint.rerank_batch([request])[0]
    assert sorted(ranking.docids) == ["0", "1", "2", "3"]
    assert ranking.trace["blocks"] == 4 and ranking.trace["ranker"] == "first"
    assert all(0.0 <= r.score <= 1.0 for r in ranking.results)
    assert joint.rerank_batch([request])[0].docids == ranking.docids
    with pytest.raises(OptionError, match="block_size"):
        Reranker.load("smollm2-135m", method="jointrank", block_size=1)


def test_pagerank_aggregation_orders_blocks_by_the_loser_to_winner_graph():
    """The paper's other aggregation: PageRank over implicit wins. The never-beaten passage is near the top; the order
    tracks the hidden relevance closely, and the scores are
    PageRank's (a distribution over the head)."""
    from rankwise.rerankers.listwise.jointrank import block_preferences

    assert block_preferences([[2, 0, 1], [1, 2]]) == {
        (2, 0): 1.0,
        (0, 2): 0.0,
        (2, 1): 0.5,
        (1, 2): 0.5,
        (0, 1): 1.0,
        (1, 0): 0.0,
    }
    joint = JointRankReranker.build(
        ScriptedBlocks(), "scripted", block_size=10, replicas=3, top_k=40, seed=0, aggregator="pagerank"
    )
    ranking = joint.rerank_batch(_requests(40, queries=1))[0]
    relevance = [int(r.text.split()[1]) for r in ranking.results]
    assert 39 in relevance[:3]  # PageRank need not put the never-beaten passage first, but near it
    inversions = sum(a < b for i, a in enumerate(relevance) for b in relevance[i + 1 :])
    assert inversions < 0.1 * (40 * 39 / 2)
    assert sum(r.score for r in ranking.results) == pytest.approx(1.0)
    assert ranking.trace["aggregator"] == "pagerank"

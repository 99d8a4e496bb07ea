"""PRP on SmolLM2-135M: both-order judging against the model's own log-probs, the three orderings'
contracts (call counts, settled positions), position-bias cancellation, and option errors."""

from __future__ import annotations

import math

import pytest

from rankwise import OptionError, Reranker
from rankwise.rerankers.pairwise.prp import ANSWER_PREFIX, PairwiseJudge
from rankwise.rerankers.prompts.pairwise import PRP as PRP_PROMPT
from rankwise.types import Candidate, Query, Request

QUERY = "how long do fleas live"
PASSAGES = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs flour, water and salt.",
    "Without a host, a flea survives a few days to two weeks.",
    "Guitar strings are tuned with pegs.",
    "Flea larvae develop in carpets over one to two weeks.",
]


@pytest.fixture(scope="module")
def prp():
    return Reranker.load("smollm2-135m", method="prp", batch_size=8)


def _request(passages=PASSAGES) -> Request:
    return Request(Query("q", QUERY), [Candidate(str(i), p) for i, p in enumerate(passages)])


def test_a_judgement_is_the_mean_of_both_orders_read_from_the_model(prp):
    import numpy as np

    lm = prp.lm
    judge = PairwiseJudge(lm, PRP_PROMPT, QUERY, PASSAGES)
    a_ids, b_ids = judge.a_ids, judge.b_ids

    def log_odds(first: str, second: str) -> float:
        text = lm.chat_prefix(PRP_PROMPT.messages(query=QUERY, passage_a=first, passage_b=second)) + ANSWER_PREFIX
        row = lm.next_token_logprobs([lm.encode(text)], a_ids + b_ids)[0]
        return float(np.logaddexp.reduce(row[: len(a_ids)]) - np.logaddexp.reduce(row[len(a_ids) :]))

    forward, backward = log_odds(PASSAGES[0], PASSAGES[1]), log_odds(PASSAGES[1], PASSAGES[0])
    assert judge.preference(0, 1) == pytest.approx((forward - backward) / 2, abs=1e-4)
    assert judge.preference(1, 0) == pytest.approx(-(forward - backward) / 2, abs=1e-4)
    assert judge.wins(0, 1) == (float(forward > 0) + float(backward < 0)) / 2
    assert judge.calls == 2  # both orders, once: the reverse lookup is cached


def test_allpair_sends_every_ordered_pair_and_ranks_by_wins(prp):
    ranking = prp.rerank_batch([_request()])[0]
    k = len(PASSAGES)
    assert ranking.trace["llm_calls"] == k * (k - 1)
    wins = [r.score for r in ranking.results]
    assert wins == sorted(wins, reverse=True) and sum(wins) == pytest.approx(k * (k - 1) / 2)


@pytest.mark.slow  # 9 s
def test_allpair_does_not_depend_on_the_order_passages_arrive_in(prp):
    forward = prp.rerank_batch([_request()])[0]
    reversed_request = Request(Query("q", QUERY), [Candidate(str(i), PASSAGES[i]) for i in reversed(range(5))])
    backward = prp.rerank_batch([reversed_request])[0]
    assert [r.score for r in forward.results] == [r.score for r in backward.results]
    assert forward.docids == backward.docids


def test_sliding_with_one_pass_compares_adjacent_pairs_once_and_the_top_beat_the_runner_up():
    reranker = Reranker.load("smollm2-135m", method="prp", variant="sliding", top_n=1, batch_size=8)
    ranking = reranker.rerank_batch([_request()])[0]
    k = len(PASSAGES)
    assert ranking.trace["llm_calls"] == 2 * (k - 1)  # one bubble pass: k - 1 comparisons, both orders
    judge = PairwiseJudge(reranker.lm, PRP_PROMPT, QUERY, PASSAGES)
    # The pass ends with a comparison between positions 0 and 1: the winner stays on top.
    assert judge.better(int(ranking.docids[0]), int(ranking.docids[1]))
    assert ranking.trace["score"].startswith("position order from PRP-sliding")


def test_heapsort_settles_the_top_n_with_fewer_prompts_and_keeps_every_document():
    reranker = Reranker.load("smollm2-135m", method="prp", variant="heapsort", top_n=2, batch_size=8)
    ranking = reranker.rerank_batch([_request()])[0]
    assert sorted(ranking.docids) == sorted(str(i) for i in range(5))
    k = len(PASSAGES)
    assert 0 < ranking.trace["llm_calls"] < k * (k - 1)
    judge = PairwiseJudge(reranker.lm, PRP_PROMPT, QUERY, PASSAGES)
    top = int(ranking.docids[0])
    # The heap's root is compared with its children on the way down; the first popped one beat both.
    assert sum(judge.better(top, other) for other in range(k) if other != top) >= 2


def test_top_k_compares_only_the_head_and_keeps_the_tail_in_order():
    reranker = Reranker.load("smollm2-135m", method="prp", top_k=3, batch_size=8)
    ranking = reranker.rerank_batch([_request()])[0]
    assert ranking.trace["llm_calls"] == 6
    assert ranking.docids[3:] == ["3", "4"] and sorted(ranking.docids[:3]) == ["0", "1", "2"]
    assert all(math.isfinite(r.score) for r in ranking.results)


def test_unknown_variant_is_refused_before_loading():
    with pytest.raises(OptionError, match="variant='bubble' must be one of allpair, heapsort, sliding"):
        Reranker.load("smollm2-135m", method="prp", variant="bubble")

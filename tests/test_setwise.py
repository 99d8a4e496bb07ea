"""Setwise on SmolLM2-135M (whose "[A]" splits into "[" and "A", so the bridged identifier path runs): the
judge picks the identifier the model itself scores highest, the heap settles the top, voting shows each
set in several orders, and bad options are refused."""

from __future__ import annotations

import pytest

from rankwise import OptionError, Reranker
from rankwise.rerankers.pairwise.setwise import SetwiseJudge, setwise_heapsort
from rankwise.types import Candidate, Query, Request

QUERY = "how long do fleas live"
PASSAGES = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs flour, water and salt.",
    "Without a host, a flea survives a few days to two weeks.",
    "Guitar strings are tuned with pegs.",
    "Flea larvae develop in carpets over one to two weeks.",
    "Chess pieces move in fixed patterns.",
]


@pytest.fixture(scope="module")
def setwise():
    return Reranker.load("smollm2-135m", method="setwise", batch_size=8)


def _request() -> Request:
    return Request(Query("q", QUERY), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])


def test_the_judge_picks_the_identifier_with_the_highest_exact_log_prob(setwise):
    judge = SetwiseJudge(setwise.lm, {}, QUERY, PASSAGES)
    scheme = judge.scheme(3)
    assert scheme.needs_step  # SmolLM2: "[" then the letter
    members = [1, 2, 0]
    scores = judge.label_logprobs(members)
    sequence = judge._sequence(members, scheme.labels)
    bridged = [scheme.bridged[p] for p in range(3)]
    first, second = setwise.lm.first_token_logprobs([sequence], [scheme.bridge_id], scheme.bridge_id, bridged)
    for position, passage in enumerate(members):
        assert scores[passage] == pytest.approx(float(first[0, 0] + second[0, position]), abs=1e-4)
    assert judge.best(members) == max(members, key=scores.get)


def test_heapsort_returns_every_document_with_the_top_settled_in_fewer_calls_than_a_full_sort(setwise):
    ranking = setwise.rerank_batch([_request()])[0]
    assert sorted(ranking.docids) == sorted(str(i) for i in range(len(PASSAGES)))
    judge = SetwiseJudge(setwise.lm, {}, QUERY, PASSAGES)
    top = int(ranking.docids[0])
    others = [i for i in range(len(PASSAGES)) if i != top]
    # The popped root won its last set: it beats at least the two children it was shown with.
    wins = sum(judge.best([top, a, b]) == top for a, b in zip(others[::2], others[1::2]))
    assert wins >= 1
    assert 0 < ranking.trace["llm_calls"] <= len(PASSAGES) * 4


def test_top_1_stops_after_building_the_heap():
    calls = []

    class CountingJudge:
        def best(self, members):
            calls.append(list(members))
            return max(members)  # a judge that prefers higher positions

    order = setwise_heapsort(CountingJudge(), 7, 3, top_n=1)
    assert order[0] == 6 and sorted(order) == list(range(7))
    full = setwise_heapsort(CountingJudge(), 7, 3, top_n=7)
    assert full == [6, 5, 4, 3, 2, 1, 0]  # with a consistent judge, the heap sort is a true sort


def test_permutation_voting_sums_each_passage_over_the_rotated_orders(setwise):
    schemes = {}
    voting = SetwiseJudge(setwise.lm, schemes, QUERY, PASSAGES, permutations=3)
    summed = voting.label_logprobs([0, 1, 2])
    assert voting.calls == 3
    single = SetwiseJudge(setwise.lm, schemes, QUERY, PASSAGES, permutations=1)
    rotations = [single.label_logprobs(order) for order in ([0, 1, 2], [1, 2, 0], [2, 0, 1])]
    for passage in (0, 1, 2):
        assert summed[passage] == pytest.approx(sum(r[passage] for r in rotations), abs=1e-3)


def test_options_are_checked_at_load():
    with pytest.raises(OptionError, match="set_size=1 must be >= 2"):
        Reranker.load("smollm2-135m", method="setwise", set_size=1)

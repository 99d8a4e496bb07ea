"""The on-disk result cache: the same scores as without it, no model work for what was scored before,
keyed by the reranker's parameters, safe across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

from rankwise import Reranker, ScoreKind

pytest.importorskip("diskcache", reason="the cache extra is not installed")

DOCS, QUERY = FLEA_PASSAGES, FLEA_QUERY


def _counting(reranker):
    """Count the (query, passage) pairs that reach the model."""
    calls = []
    inner = reranker.inner.candidate_scores

    def counted(requests):
        calls.append(sum(len(r.candidates) for r in requests))
        return inner(requests)

    reranker.inner.candidate_scores = counted
    return calls


def test_pointwise_scores_are_cached_per_pair(tmp_path, minilm):
    cached = Reranker.load("minilm-embed", cache=tmp_path / "c")
    calls = _counting(cached)
    first = cached.rerank(QUERY, DOCS)
    expected = minilm.rerank(QUERY, DOCS)
    assert first.docids == expected.docids and first.score_kind is ScoreKind.COSINE
    assert [r.score for r in first] == pytest.approx([r.score for r in expected], abs=1e-6)
    again = cached.rerank(QUERY, DOCS)
    assert [r.score for r in again] == [r.score for r in first]
    # a new list that shares three passages scores only the new one
    cached.rerank(QUERY, DOCS[1:] + ["Cats sleep sixteen hours a day."])
    assert calls == [4, 1] and (cached.hits, cached.misses) == (7, 5)
    # another query is another key
    cached.rerank("sourdough starter", DOCS[:1])
    assert calls[-1] == 1


def test_list_methods_cache_whole_lists_and_parameters_change_the_key(tmp_path):
    folder = tmp_path / "c"
    feedback = Reranker.load("minilm-embed", method="maxsim", cache=folder)
    calls = _counting(feedback)
    order = feedback.rerank(QUERY, DOCS).docids
    assert feedback.rerank(QUERY, DOCS).docids == order and calls == [4]
    feedback.rerank(QUERY, DOCS[:3])  # a different list: feedback depends on it, so it is scored again
    assert calls == [4, 3]
    plain = Reranker.load("minilm-embed", method="maxsim", prf_k=0, cache=folder)
    plain_calls = _counting(plain)
    plain.rerank(QUERY, DOCS)
    assert plain_calls == [4]  # prf_k is part of the key


@pytest.mark.slow  # 19 s: a second interpreter loading MiniLM
def test_another_process_reads_what_one_wrote(tmp_path):
    folder = tmp_path / "shared"
    script = (
        "import sys; from rankwise import Reranker; r = Reranker.load('minilm-embed', cache=sys.argv[1]); "
        "r.rerank('how long do fleas live', ['fleas live for months', 'bread']); print(r.hits, r.misses)"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, timeout=300
        ).stdout.split()
        for _ in range(2)
    ]
    assert outputs == [["0", "2"], ["2", "0"]]


def test_the_cache_answers_for_the_reranker_it_wraps_top_k_included(tmp_path):
    """Pipelines count reranked documents by the method's own top_k: a cached listwise reranker must keep it."""
    pytest.importorskip("diskcache")
    from rankwise import Reranker

    inner = Reranker.load("smollm2-135m", method="first", top_k=5, window=5, stride=5)
    cached = Reranker.load("smollm2-135m", method="first", top_k=5, window=5, stride=5, cache=str(tmp_path))
    assert (cached.method, cached.score_kind, cached.top_k) == (inner.method, inner.score_kind, 5)
    assert cached.reranked_count(100) == inner.reranked_count(100) == 5

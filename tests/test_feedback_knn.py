"""The kNN relevance-feedback reranker (issue 40 item 8; Baumgärtner et al., EMNLP 2022) against the scores
the authors' own code gives (tests/reference/feedback_knn_scores.py, run on the same MiniLM weights), and
its behaviour without feedback, in the service and with bad options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankwise import OptionError, Reranker
from rankwise.types import Candidate, Query, Request

REFERENCE = json.loads((Path(__file__).parent / "reference" / "feedback_knn_scores.json").read_text())
SETTINGS = {  # the reference's setting -> rankwise's options
    "query_annot-sum": {"use_query": True, "aggregate": "sum"},
    "query_annot-max": {"use_query": True, "aggregate": "max"},
    "annot-sum": {"use_query": False, "aggregate": "sum"},
    "annot-max": {"use_query": False, "aggregate": "max"},
}


def _request(feedback=()) -> Request:
    candidates = [Candidate(docid, text) for docid, text in REFERENCE["passages"].items()]
    return Request(Query("t1", REFERENCE["query"], feedback=tuple(feedback)), candidates)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_scores_equal_the_authors_knn_eval(setting):
    reranker = Reranker.load("minilm-embed", method="feedback-knn", **SETTINGS[setting])
    (ranking,) = reranker.rerank_batch([_request(REFERENCE["feedback"])])
    scores = {r.docid: r.score for r in ranking.results}
    assert scores == pytest.approx(REFERENCE["scores"][setting], abs=1e-4)
    assert ranking.trace["feedback_docids"] == REFERENCE["feedback"] and ranking.trace["feedback"] == "explicit"


def test_feedback_lifts_passages_like_the_marked_ones_and_without_it_the_query_alone_ranks():
    reranker = Reranker.load("minilm-embed", method="feedback-knn")
    plain = Reranker.load("minilm-embed", method="embedding")
    (without,) = reranker.rerank_batch([_request()])
    (cosine,) = plain.rerank_batch([_request()])
    assert [r.docid for r in without.results] == [r.docid for r in cosine.results]
    assert [r.score for r in without.results] == pytest.approx([r.score for r in cosine.results], abs=1e-6)
    assert without.trace["feedback"] == "none"
    # "d5" (fleas dying without a host) moves above the flea market once d1 and d3 are marked relevant
    (marked,) = reranker.rerank_batch([_request(["d1", "d3"])])
    order = [r.docid for r in marked.results]
    assert order[:2] == ["d1", "d3"] or order[:2] == ["d3", "d1"]
    assert order.index("d5") < order.index("d2")


def test_bad_options_are_refused_naming_them():
    with pytest.raises(OptionError, match="aggregate"):
        Reranker.load("minilm-embed", method="feedback-knn", aggregate="mean")

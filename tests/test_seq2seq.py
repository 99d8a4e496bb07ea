"""T5 rerankers (monoT5, duoT5) on a tiny seeded T5 with a SentencePiece (Unigram) tokenizer trained here,
against rerankers 0.10's T5Ranker and pygaggle's DuoT5 formula on the same folder."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import tiny_models
from rankwise import Reranker
from rankwise.errors import InputError, UnsupportedMethodError

QUERY = "how long do fleas live"
PASSAGES = [
    "An adult flea lives two to three months, true to its kind.",
    "Sourdough needs feeding daily.",
    "Flea pupae can stay dormant for up to a year, which is false comfort. " * 3,
    "The flea market sells records.",
]


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory):
    folder = tiny_models.t5(tmp_path_factory.mktemp("t5") / "tiny-monot5")
    from transformers import AutoTokenizer

    assert {"▁true", "▁false"} <= set(AutoTokenizer.from_pretrained(folder).get_vocab())
    return folder


def test_monot5_preset_equals_rerankers_t5ranker(tiny_t5):
    """rerankers 0.10 `T5Ranker` (pygaggle's monoT5 formula: softmax over ▁false/▁true, P(true)); rankwise
    reports log P(true), the score pygaggle's MonoT5 gives."""
    rerankers_t5 = pytest.importorskip("rerankers.models.t5ranker", reason="rerankers 0.10 (a test dependency)")
    short = [p for p in PASSAGES if len(p) < 100]  # the reference cuts an over-long source's template too
    reference = rerankers_t5.T5Ranker(
        str(tiny_t5), device="cpu", dtype="float32", verbose=0, token_false="▁false", token_true="▁true"
    )._get_scores(QUERY, short)
    reranker = Reranker.load(str(tiny_t5), preset="monot5", batch_size=2)
    assert reranker.method == "seq2seq-pointwise"
    ranking = reranker.rerank(QUERY, short)
    got = [{r.docid: r.score for r in ranking}[str(i)] for i in range(len(short))]
    assert np.exp(got) == pytest.approx(reference, abs=1e-5)
    assert ranking.docids == [str(i) for i in np.argsort(-np.array(reference), kind="stable")]
    assert ranking.score_kind.value == "log-probability" and len(set(got)) == len(got)


def test_an_over_long_source_is_cut_in_the_passage_never_the_template(tiny_t5):
    reranker = Reranker.load(str(tiny_t5), preset="monot5")
    source = reranker.backend.fit_source(
        lambda p: reranker.template.format(query=QUERY, passage=p[0]), [PASSAGES[2] * 2], "passage", "longest-first"
    )
    assert len(reranker.backend.encode_source(PASSAGES[2] * 2)) > 64 and len(source) == 64
    assert reranker.backend.tokenizer.decode(source).endswith("Relevant:</s>")
    strict = Reranker.load(str(tiny_t5), preset="monot5", truncate=False)
    with pytest.raises(InputError, match="over the limit of 64"):
        strict.rerank(QUERY, [PASSAGES[2] * 2])


def duot5_pygaggle_scores(folder, query, passages):
    """ORACLE: pygaggle's DuoT5.rescore (castorini/pygaggle, pygaggle/rerank/transformer.py) written out for
    one query: every ordered pair, P(true) from a softmax over the false/true logits at the first decoder
    step, scores[d0] += p and scores[d1] += 1 - p. pygaggle hard-codes T5's ids 6136/1176 for ▁false/▁true;
    the tiny vocabulary here has its own, looked up by the same spelling."""
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = T5ForConditionalGeneration.from_pretrained(folder).eval()
    false_id, true_id = tokenizer.get_vocab()["▁false"], tokenizer.get_vocab()["▁true"]
    scores = [0.0] * len(passages)
    for i, j in itertools.permutations(range(len(passages)), 2):
        text = f"Query: {query} Document0: {passages[i]} Document1: {passages[j]} Relevant:"
        encoded = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            logits = model(**encoded, decoder_input_ids=torch.tensor([[model.config.decoder_start_token_id]])).logits
        p = torch.softmax(logits[0, 0, [false_id, true_id]], dim=0)[1].item()
        scores[i] += p
        scores[j] += 1 - p
    return scores


def test_duot5_preset_equals_pygaggles_symmetric_sum(tiny_t5):
    passages = PASSAGES[:2] + PASSAGES[3:]
    reference = duot5_pygaggle_scores(str(tiny_t5), QUERY, passages)
    reranker = Reranker.load(str(tiny_t5), preset="duot5", batch_size=4, top_k=3)
    ranking = reranker.rerank(QUERY, passages + ["left below: beyond top_k"])
    assert reranker.method == "seq2seq-pairwise"
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(3)] == pytest.approx(reference, abs=1e-5)
    assert ranking.docids[:3] == [str(i) for i in np.argsort(-np.array(reference), kind="stable")]
    assert ranking.trace["pairs"] == 6 and ranking.docids[-1] == "3"  # 3 x 2 ordered pairs; the 4th stays below
    assert max(reference) - min(reference) > 1e-3  # the tiny model separates the passages: the order is tested


def test_a_t5_folder_without_a_preset_is_refused_with_what_to_pass(tiny_t5):
    with pytest.raises(
        UnsupportedMethodError, match="name them with a preset \\(preset=monot5, rankt5, lit5, listt5, mvp or duot5\\)"
    ):
        Reranker.load(str(tiny_t5))
    with pytest.raises(UnsupportedMethodError, match="the tokenizer has no token '▁maybe'"):
        Reranker.load(str(tiny_t5), preset="monot5", answer_tokens="▁no,▁maybe")


LIT5 = json.loads((Path(__file__).parent / "reference" / "rank_llm_0.26.0_lit5.json").read_text())


def test_lit5_preset_equals_rank_llm_0_26_fid_generation_and_sliding_windows():
    """rank-llm 0.26.0's RankFiDDistill (its prompts, its FiD model class, greedy generation, sliding windows)
    on a tiny T5 it read from tests/reference/lit5_tiny_t5 (tests/reference/rank_llm_lit5.py wrote both)."""
    folder = str(Path(__file__).parent / "reference" / "lit5_tiny_t5")
    options = dict(preset="lit5", window=LIT5["window"], stride=LIT5["stride"], passage_tokens=LIT5["context_size"])
    reranker = Reranker.load(folder, **options)
    assert reranker.method == "fid-listwise"
    one_window = reranker.rerank(LIT5["query"], LIT5["passages"][: LIT5["window"]])
    assert one_window.trace["windows"][0]["response"] == LIT5["first_window_response"]
    ranking = reranker.rerank(LIT5["query"], LIT5["passages"])
    assert ["d" + docid for docid in ranking.docids] == LIT5["final_order"]
    assert ranking.docids != sorted(ranking.docids)  # the windows moved passages: the order is tested


def rankt5_lightning_ir_scores(folder, query, passages):
    """ORACLE: lightning-ir 0.0.6's RankT5 check (tests/models/test_cross_encoder.py, test_same_as_t5, the
    'rank' strategy it uses for Soyoung97/RankT5-*): "Query: q Document: d", a greedy generate of one step
    with output_scores, and the first step's score of <extra_id_10> (id 32089 in T5's vocabulary; looked up by
    name in the tiny one)."""
    import torch
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = T5ForConditionalGeneration.from_pretrained(folder).eval()
    scoring_id = tokenizer.get_vocab()["<extra_id_10>"]
    encoded = tokenizer(
        [f"Query: {query} Document: {p}" for p in passages],
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=256,
    )
    with torch.inference_mode():
        output = model.generate(**encoded, max_length=2, return_dict_in_generate=True, output_scores=True)
    return output.scores[0][:, scoring_id].tolist()


def test_rankt5_preset_equals_lightning_irs_first_step_logit(tmp_path):
    folder = tiny_models.t5(tmp_path / "tiny-rankt5", extra_ids=11)
    reference = rankt5_lightning_ir_scores(str(folder), QUERY, PASSAGES)
    reranker = Reranker.load(str(folder), preset="rankt5", batch_size=3)
    ranking = reranker.rerank(QUERY, PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(PASSAGES))] == pytest.approx(reference, abs=1e-5)
    assert ranking.docids == [str(i) for i in np.argsort(-np.array(reference), kind="stable")]
    assert ranking.score_kind.value == "unbounded" and max(reference) - min(reference) > 1e-4  # a raw logit
    with pytest.raises(Exception, match="one answer token \\('<extra_id_10>'\\) gives a raw logit"):
        Reranker.load(str(folder), preset="rankt5", score="log-probability")


# --- ListT5 (preset listt5): its FiD model, its output order and its tournament sort ---------------------

T5_WORDS = ["adult", "sourdough", "market", "dormant", "records", "months", "daily", "comfort"]
LISTT5_CASES = [
    ("how long do fleas live", [f"{w} passage {i}" for i, w in enumerate(["flea", "market", "records", "pupae"])]),
    ("how long do fleas live", [f"passage {i} about fleas and {w}" for i, w in enumerate("abcdefg")]),
    (
        "how long do fleas live",
        [f"{T5_WORDS[i % len(T5_WORDS)]} flea passage {i}, true to its kind" for i in range(23)],
    ),
]


def test_listt5_ranks_as_the_authors_tournament_sort(tmp_path):
    """preset=listt5 on a tiny FiD T5 saved by ListT5's own FiDT5 class (wrapped encoder keys, unwrapped at
    load) against `ListT5Evaluator.run_tournament_sort` on the same weights (tests/reference/
    listt5_tournament.py): the same order and the same number of model calls for 4 candidates (one call),
    7 (every one found by tournament) and 23 (ten rounds with leftovers, dummies and the cache)."""
    reference = json.loads((Path(__file__).parent / "reference" / "listt5_tournament.json").read_text())
    folder = tiny_models.reference_copy("listt5_tiny_fidt5", tmp_path / "listt5")
    reranker = Reranker.load(str(folder), preset="listt5")
    assert reranker.method == "listt5"
    for case in reference["cases"]:
        ranking = reranker.rerank(case["query"], case["passages"])
        assert [int(d) for d in ranking.docids] == case["order"], len(case["passages"])
        assert ranking.trace["model_calls"] == case["model_calls"]


def test_mvp_scores_as_the_authors_model(tmp_path):
    """preset=mvp on a tiny checkpoint saved by MVP's own class (FiD-wrapped encoder keys) against its
    `forward` logits and `generate_ranklist` order on the same weights (tests/reference/mvp_scores.py), for 4,
    7 and 23 passages ranked in one decoder step; candidates past top_k keep their order below."""
    reference = json.loads((Path(__file__).parent / "reference" / "mvp_scores.json").read_text())
    folder = tiny_models.reference_copy("mvp_tiny", tmp_path / "mvp")
    reranker = Reranker.load(str(folder), preset="mvp", passage_tokens=reference["max_input_length"])
    assert reranker.method == "mvp"
    for case in reference["cases"]:
        ranking = reranker.rerank(case["query"], case["passages"])
        logits = ranking.trace["logits"]
        assert [logits[str(i)] for i in range(len(case["passages"]))] == pytest.approx(case["logits"], abs=1e-4)
        assert [int(d) for d in ranking.docids] == case["order"], len(case["passages"])
        assert reranker.backend.stats["decoder_steps"] > 0
    case = reference["cases"][2]
    head = Reranker.load(str(folder), preset="mvp", passage_tokens=64, top_k=5).rerank(case["query"], case["passages"])
    assert [int(d) for d in head.docids][5:] == list(range(5, 23)) and len(head.trace["logits"]) == 5
    with pytest.raises(UnsupportedMethodError, match="the tokenizer has no token '<extra_id_4>'"):
        Reranker.load(str(folder), preset="mvp", views=5)


def test_a_fid_checkpoint_is_read_with_its_encoder_not_a_random_one(tmp_path):
    """ListT5's checkpoints keep FiD's wrapped encoder names (encoder.encoder.block.N.module.*), which a plain T5
    load would leave at random: the encoder's weights are the saved ones."""
    import torch
    from safetensors.torch import load_file

    folder = tiny_models.reference_copy("listt5_tiny_fidt5", tmp_path / "listt5")
    saved = load_file(str(folder / "model.safetensors"))
    wrapped = "encoder.encoder.block.1.module.layer.0.SelfAttention.q.weight"
    assert wrapped in saved
    model = Reranker.load(str(folder), preset="listt5").backend.model
    assert torch.equal(model.state_dict()["encoder.block.1.layer.0.SelfAttention.q.weight"], saved[wrapped])

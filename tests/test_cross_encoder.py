"""Cross-encoder code on a tiny random-weight BERT built here (no pretrained cross-encoder ships on PyPI):
API, batching and truncation behaviour, not quality."""

import pytest

import tiny_models
from rankwise import InputError, Reranker


def _build(tmp_path, num_labels: int, id2label=None):
    folder = tmp_path / f"tiny-ce-{num_labels}"
    return tiny_models.cross_encoder(folder, num_labels, id2label)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("ce"), num_labels=1)


def test_architecture_selects_cross_encoder_and_scores_equal_raw_logits(tiny):
    import torch

    directory, model, tokenizer = tiny
    reranker = Reranker.load(str(directory), activation="none")
    assert reranker.method == "cross-encoder"
    passages = ["fleas live for months", "bread needs flour", "a tick is not a flea"]
    ranking = reranker.rerank("how long do fleas live", passages)
    with torch.no_grad():
        encoded = tokenizer(["how long do fleas live"] * 3, passages, padding=True, return_tensors="pt")
        logits = model(**encoded).logits[:, 0].tolist()
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(3)] == pytest.approx(logits, abs=1e-5)
    assert ranking.docids == [str(i) for i in sorted(range(3), key=lambda i: -logits[i])]


def test_sigmoid_activation_maps_into_unit_interval_keeping_order(tiny):
    directory, _, _ = tiny
    passages = ["fleas live for months", "bread needs flour", "a tick is not a flea"]
    raw = Reranker.load(str(directory), activation="none").rerank("fleas", passages)
    squashed = Reranker.load(str(directory), activation="sigmoid").rerank("fleas", passages)
    assert raw.docids == squashed.docids
    assert all(0.0 < r.score < 1.0 for r in squashed)


def test_batch_size_does_not_change_scores(tiny):
    directory, _, _ = tiny
    passages = [f"passage number {i} " + "word " * (i * 3) for i in range(10)]
    one = Reranker.load(str(directory), batch_size=1).rerank("query text", passages)
    all_ = Reranker.load(str(directory), batch_size=16).rerank("query text", passages)
    assert one.docids == all_.docids
    assert [r.score for r in one] == pytest.approx([r.score for r in all_], abs=1e-5)


def test_only_second_truncation_cuts_the_passage_not_the_query(tiny):
    directory, _, _ = tiny
    reranker = Reranker.load(str(directory), max_length=32, truncation="only_second")
    head = "fleas " * 40
    ranking = reranker.rerank("how long do fleas live", [head + "alpha", head + "omega"])
    # Both passages agree on their first 40 words, so after truncation to 32 tokens they are the same input.
    assert ranking[0].score == pytest.approx(ranking[1].score, abs=1e-6)
    strict = Reranker.load(str(directory), max_length=32, truncate=False)
    with pytest.raises(InputError, match="over the limit of 32"):
        strict.rerank("how long do fleas live", [head])


def test_two_label_head_uses_log_probability_of_relevant_class(tmp_path):
    import torch

    directory, model, tokenizer = _build(tmp_path, num_labels=2, id2label={0: "irrelevant", 1: "relevant"})
    ranking = Reranker.load(str(directory)).rerank("q", ["first", "second"])
    with torch.no_grad():
        encoded = tokenizer(["q", "q"], ["first", "second"], padding=True, return_tensors="pt")
        expected = model(**encoded).logits.log_softmax(-1)[:, 1].tolist()
    got = {r.docid: r.score for r in ranking}
    assert [got["0"], got["1"]] == pytest.approx(expected, abs=1e-5)
    assert all(r.score <= 0 for r in ranking)


# -- fidelity: sentence-transformers' CrossEncoder on the same folder is the reference -------------------------

LONG_QUERY = "how long do fleas live on a dog when nobody treats them " * 6
PAIRS_PASSAGES = [
    "fleas live for months",
    "bread needs flour " * 30,
    "a tick is not a flea " * 20,
    "an adult flea lives two to three months " * 12,
]


def _sentence_transformers_scores(directory, query, passages):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(directory), device="cpu")
    return model, [
        float(x) if getattr(x, "ndim", 0) == 0 else x.tolist()
        for x in model.predict([(query, p) for p in passages], batch_size=2)
    ]


@pytest.mark.parametrize("query", ["how long do fleas live", LONG_QUERY])
def test_one_logit_scores_equal_sentence_transformers_long_pairs_included(tiny, query):
    """sentence-transformers 6.2 `CrossEncoder.predict` (sigmoid default, longest-first truncation)."""
    directory, _, _ = tiny
    reference_model, reference = _sentence_transformers_scores(directory, query, PAIRS_PASSAGES)
    reranker = Reranker.load(str(directory), batch_size=3)
    ranking = reranker.rerank(query, PAIRS_PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(4)] == pytest.approx(reference, abs=1e-4)
    assert ranking.docids == [str(i) for i in sorted(range(4), key=lambda i: -reference[i])]
    assert reranker.scorer.max_length == reference_model.max_seq_length == 128
    assert ranking.score_kind.value == "probability"


def test_the_folder_activation_is_read_as_sentence_transformers_reads_it(tmp_path):
    """A folder saved with an Identity activation gives raw logits in both libraries."""
    import json

    directory, _, _ = _build(tmp_path, num_labels=1)
    config = json.loads((directory / "config.json").read_text())
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.linear.Identity"}
    (directory / "config.json").write_text(json.dumps(config))
    _, reference = _sentence_transformers_scores(directory, LONG_QUERY, PAIRS_PASSAGES)
    ranking = Reranker.load(str(directory)).rerank(LONG_QUERY, PAIRS_PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(4)] == pytest.approx(reference, abs=1e-4)
    assert ranking.score_kind.value == "logit"
    config["sentence_transformers"] = {"activation_fn": "torch.nn.modules.activation.Tanh"}
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="asks for activation 'torch.nn.modules.activation.Tanh'"):
        Reranker.load(str(directory))


def test_two_logit_scores_are_the_log_softmax_of_sentence_transformers_logits(tmp_path):
    import numpy as np

    directory, _, _ = _build(tmp_path, num_labels=2, id2label={0: "irrelevant", 1: "relevant"})
    _, reference = _sentence_transformers_scores(directory, LONG_QUERY, PAIRS_PASSAGES)
    expected = [float(np.log(np.exp(row[1]) / np.exp(row).sum())) for row in np.array(reference)]
    ranking = Reranker.load(str(directory)).rerank(LONG_QUERY, PAIRS_PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(4)] == pytest.approx(expected, abs=1e-4)


def test_only_second_is_the_other_truncation_not_sentence_transformers(tiny):
    """With a long query, cutting the passage alone changes the scores: the option is a real choice."""
    directory, _, _ = tiny
    _, reference = _sentence_transformers_scores(directory, LONG_QUERY, PAIRS_PASSAGES)
    ranking = Reranker.load(str(directory), truncation="only_second").rerank(LONG_QUERY, PAIRS_PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert max(abs(got[str(i)] - reference[i]) for i in range(4)) > 1e-2
    assert got["0"] == pytest.approx(reference[0], abs=1e-4)  # a pair that fits is not cut either way


# --- DeAR's pointwise rerankers (preset dear) ------------------------------------------------------------

DEAR_QUERY = "When did Thomas Edison invent the light bulb?"
DEAR_PASSAGES = [
    "Lightning strike at Seoul National University",
    "Thomas Edison tried to invent a device for car but failed",
    "Coffee is good for diet",
    "KEPCO fixes light problems",
    "Thomas Edison invented the light bulb in 1879 " * 40,  # over 228 tokens: cut longest-first
]


def test_the_dear_preset_scores_as_the_authors_rerank(tmp_path):
    """preset=dear against DeAR's own `load_ranker` + `rerank` (tests/reference/dear_pointwise.py) on the same
    seeded Llama classifier, whose tokenizer has no padding token: "query: " and "document:  " before each
    side, longest-first truncation at 228 tokens, padding with the end-of-text token, the raw logit."""
    import json
    from pathlib import Path

    reference = json.loads((Path(__file__).parent / "reference" / "dear_pointwise.json").read_text())
    folder = tiny_models.llama_sequence_classifier(tmp_path / "dear", tiny_models.qwen_tokenizer())
    reranker = Reranker.load(str(folder), preset="dear", batch_size=3)
    assert reranker.method == "cross-encoder" and reranker.scorer.max_length == 228
    ranking = reranker.rerank(DEAR_QUERY, DEAR_PASSAGES)
    got = {r.docid: r.score for r in ranking}
    assert [got[str(i)] for i in range(len(DEAR_PASSAGES))] == pytest.approx(reference["scores"], abs=1e-4)
    assert ranking.score_kind.value == "logit"
    # Without the preset's sides the same weights score otherwise.
    bare = Reranker.load(str(folder), method="cross-encoder", activation="none", max_length=228)
    assert [r.score for r in bare.rerank(DEAR_QUERY, DEAR_PASSAGES)] != pytest.approx(reference["scores"], abs=1e-3)

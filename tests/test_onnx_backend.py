"""The ONNX Runtime backend against the transformers one on the same weights: same scores in fp32, the
same order of clear cases in int8, an export cached once, and cross-encoders too."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'rankwise[onnx]'")

from rankwise import Reranker
from rankwise.types import Candidate, Query, Request

PASSAGES = [
    "Adult fleas live two to three months on a host.",
    "Sourdough bread needs flour, water and salt.",
    "Without a host, a flea survives a few days to two weeks.",
    "Guitar strings are tuned with pegs.",
    "Flea larvae develop in carpets over one to two weeks.",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx-cache")


def _scores(reranker) -> dict[str, float]:
    request = Request(Query("q", "how long do fleas live"), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])
    return {r.docid: r.score for r in reranker.rerank_batch([request])[0].results}


@pytest.mark.parametrize("method", ["embedding", "maxsim"])
def test_onnx_fp32_gives_the_transformers_scores(method, cache, monkeypatch):
    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    reference = _scores(Reranker.load("minilm-embed", method=method))
    onnx = _scores(Reranker.load("minilm-embed", method=method, backend="onnx"))
    assert onnx == pytest.approx(reference, abs=1e-4)


def test_onnx_int8_keeps_the_order_of_clear_cases_and_is_cached_once(cache, monkeypatch):
    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    reference = _scores(Reranker.load("minilm-embed", method="embedding"))
    quantized = _scores(Reranker.load("minilm-embed", method="embedding", backend="onnx", quantize="int8"))
    assert quantized == pytest.approx(reference, abs=0.05)
    assert max(quantized, key=quantized.get) == max(reference, key=reference.get)
    graphs = sorted((cache / "onnx").glob("*/model.onnx"))
    stamps = [g.stat().st_mtime_ns for g in graphs]
    Reranker.load("minilm-embed", method="embedding", backend="onnx", quantize="int8")
    assert sorted((cache / "onnx").glob("*/model.onnx")) == graphs  # no new export
    assert [g.stat().st_mtime_ns for g in graphs] == stamps
    assert not list((cache / "onnx").glob(".export-*"))  # no leftover work folder


def test_onnx_cross_encoder_gives_the_transformers_logits(tmp_path, cache, monkeypatch):
    from test_cross_encoder import _build

    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    directory, _, _ = _build(tmp_path, num_labels=1)
    reference = _scores(Reranker.load(str(directory)))
    onnx = _scores(Reranker.load(str(directory), backend="onnx"))
    assert onnx == pytest.approx(reference, abs=1e-4)


def test_onnx_refuses_llm_methods_naming_the_capability():
    from rankwise.errors import UnsupportedMethodError

    with pytest.raises(UnsupportedMethodError, match="needs capability .* which backend 'onnx' does not offer"):
        Reranker.load("smollm2-135m", method="llm-pointwise", backend="onnx")

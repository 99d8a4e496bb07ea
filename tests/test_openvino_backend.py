"""The OpenVINO backend against the transformers one on the same weights: the same scores in fp32, the
order of clear cases in int8, a conversion cached once per weights and calibration, cross-encoders too."""

from __future__ import annotations

import pytest

pytest.importorskip("openvino", reason="the openvino extra is not installed: pip install 'rankwise[openvino]'")

from rankwise import Reranker
from test_onnx_backend import _scores


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("openvino-cache")


# maxsim by default (the same encoder, its pooled vector and its token vectors both compared); embedding -m slow.
@pytest.mark.parametrize("method", [pytest.param("embedding", marks=pytest.mark.slow), "maxsim"])
def test_openvino_fp32_gives_the_transformers_scores(method, cache, monkeypatch):
    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    reference = _scores(Reranker.load("minilm-embed", method=method))
    converted = _scores(Reranker.load("minilm-embed", method=method, backend="openvino"))
    assert converted == pytest.approx(reference, abs=1e-4)


@pytest.mark.slow
def test_openvino_int8_keeps_the_order_of_clear_cases(cache, monkeypatch):
    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    reference = _scores(Reranker.load("minilm-embed", method="embedding"))
    quantized = _scores(Reranker.load("minilm-embed", method="embedding", backend="openvino", quantize="int8"))
    assert quantized == pytest.approx(reference, abs=0.05)
    assert quantized != pytest.approx(reference, abs=1e-5)  # int8 did change the network
    assert max(quantized, key=quantized.get) == max(reference, key=reference.get)


@pytest.mark.slow  # 17 s; the cache key and the atomic build are export_cache's, tested by default through ONNX int8
def test_openvino_int8_is_converted_once_per_weights_and_calibration_texts(tmp_path, monkeypatch, write):
    """On a tiny random cross-encoder (quantizing MiniLM takes a minute): int8 moves its scores (by up to
    0.13 here: random weights and a 3-line calibration), a second load converts nothing, and other
    calibration texts make another variant."""
    from test_cross_encoder import _build

    cache = tmp_path / "cache"
    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    directory, _, _ = _build(tmp_path, num_labels=1)
    reference = _scores(Reranker.load(str(directory)))
    quantized = _scores(Reranker.load(str(directory), backend="openvino", quantize="int8"))
    assert quantized == pytest.approx(reference, abs=0.25) and quantized != pytest.approx(reference, abs=1e-6)
    models = sorted((cache / "openvino").glob("*/model.xml"))
    stamps = [m.stat().st_mtime_ns for m in models]
    assert len(models) == 1
    Reranker.load(str(directory), backend="openvino", quantize="int8")
    assert sorted((cache / "openvino").glob("*/model.xml")) == models  # no new conversion
    assert [m.stat().st_mtime_ns for m in models] == stamps
    texts = write("texts.txt", "how long do fleas live\nFleas live two to three months.\nbread recipe\n")
    Reranker.load(str(directory), backend="openvino", quantize="int8", calibration_texts=str(texts))
    assert len(list((cache / "openvino").glob("*/model.xml"))) == 2  # other texts, other variant
    assert not list((cache / "openvino").glob(".export-*"))  # no leftover work folder


def test_a_calibration_file_that_cannot_be_used_is_refused(write):
    from rankwise.errors import InputError

    one = write("one.txt", "just one line\n\n")
    with pytest.raises(
        InputError, match=r"calibration_texts file .*one.txt' has 1 non-empty line\(s\); give at least 2"
    ):
        Reranker.load("minilm-embed", backend="openvino", quantize="int8", calibration_texts=str(one))
    with pytest.raises(InputError, match="calibration_texts file 'no/such.txt' cannot be read"):
        Reranker.load("minilm-embed", backend="openvino", quantize="int8", calibration_texts="no/such.txt")


def test_openvino_cross_encoder_gives_the_transformers_logits(tmp_path, cache, monkeypatch):
    from test_cross_encoder import _build

    monkeypatch.setenv("RANKWISE_CACHE", str(cache))
    directory, _, _ = _build(tmp_path, num_labels=1)
    reference = _scores(Reranker.load(str(directory)))
    converted = _scores(Reranker.load(str(directory), backend="openvino"))
    assert converted == pytest.approx(reference, abs=1e-4)


def test_openvino_refuses_llm_methods_and_options_of_other_backends():
    from rankwise.errors import OptionError, UnsupportedMethodError

    with pytest.raises(UnsupportedMethodError, match="needs capability .* which backend 'openvino' does not offer"):
        Reranker.load("smollm2-135m", method="llm-pointwise", backend="openvino")
    with pytest.raises(OptionError, match="runtime option share_prefix=True does not apply to backend 'openvino'"):
        Reranker.load("minilm-embed", backend="openvino", share_prefix=True)

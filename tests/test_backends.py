"""The backend interface: methods ask for capabilities, the registry refuses what a backend lacks, and any
object implementing the protocol serves a method without the method knowing its class."""

import sys
import types
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

from rankwise import ModelNotAvailableError, OptionError, Reranker, UnsupportedMethodError
from rankwise.backends import registry
from rankwise.backends.interface import Capability, Embedder
from rankwise.backends.registry import BackendEntry
from rankwise.cli import app


class WordOverlapEmbedder:
    """A pure-Python embedder: hashed bag of lower-cased words, unit length. No torch anywhere."""

    backend_name = "word-overlap"
    capabilities = frozenset({Capability.EMBED})
    max_length = 10_000
    pooling = ("sum",)

    def __init__(self, location, runtime, needs):
        self.dimensions = 4096

    def embed_unit(self, texts):
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.strip(".,?").encode()) % self.dimensions] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@pytest.fixture
def word_overlap_backend(monkeypatch):
    module = types.ModuleType("rankwise_test_word_overlap")
    module.WordOverlapEmbedder = WordOverlapEmbedder
    monkeypatch.setitem(sys.modules, module.__name__, module)
    entry = BackendEntry(
        name="word-overlap",
        factory=f"{module.__name__}:WordOverlapEmbedder",
        capabilities=frozenset({Capability.EMBED}),
        requires_modules=("numpy",),
        install_hint="pip install numpy",
        description="test backend",
    )
    monkeypatch.setitem(registry.BACKENDS, entry.name, entry)
    return entry


def test_a_method_runs_on_any_backend_that_implements_the_protocol(word_overlap_backend):
    reranker = Reranker.load("minilm-embed", method="embedding", backend="word-overlap")
    assert isinstance(reranker.encoder, Embedder) and not hasattr(reranker.encoder, "model")
    ranking = reranker.rerank(
        "how long do fleas live", ["cats sleep all day", "adult fleas live for months", "a river is long"]
    )
    assert [r.text for r in ranking] == ["adult fleas live for months", "a river is long", "cats sleep all day"]
    # PRF is another method over the same single capability.
    prf = Reranker.load("minilm-embed", method="embedding-prf", backend="word-overlap", prf_k=1)
    assert prf.rerank("fleas", ["fleas bite", "dogs bark"]).results[0].text == "fleas bite"


def test_missing_capability_is_refused_at_load_naming_it_and_who_has_it(word_overlap_backend):
    with pytest.raises(
        UnsupportedMethodError,
        match="method 'first' needs capability 'bridged-first-token', which backend 'word-overlap' "
        "does not offer; backends with it: transformers",
    ):
        Reranker.load("smollm2-135m", method="first", backend="word-overlap")
    with pytest.raises(
        UnsupportedMethodError, match="method 'query-likelihood' needs capability 'continuation-logprobs'"
    ):
        Reranker.load("smollm2-135m", method="query-likelihood", backend="word-overlap")


def test_unknown_backend_and_missing_install_are_named(monkeypatch, word_overlap_backend):
    with pytest.raises(UnsupportedMethodError, match="unknown backend 'vllm'; available: transformers"):
        Reranker.load("minilm-embed", backend="vllm")
    absent = BackendEntry(
        name="absent",
        factory="nowhere:nothing",
        capabilities=frozenset({Capability.EMBED}),
        requires_modules=("rankwise_no_such_module",),
        install_hint="pip install 'rankwise[absent]'",
        description="not installed",
    )
    monkeypatch.setitem(registry.BACKENDS, "absent", absent)
    with pytest.raises(
        ModelNotAvailableError,
        match="backend 'absent' needs rankwise_no_such_module, which is not "
        "installed: pip install 'rankwise\\[absent\\]'",
    ):
        Reranker.load("minilm-embed", backend="absent")


def test_every_registered_method_declares_what_it_needs():
    from rankwise.rerankers.registry import METHODS, method_class

    for name in METHODS:
        cls = method_class(name)
        if name == "fusion":  # runs other rerankers, each with its own backend
            assert cls.requires == frozenset()
            continue
        assert cls.requires, f"{name} declares no capability"
        assert cls.requires <= registry.BACKENDS["transformers"].capabilities


def test_cli_lists_backends_with_capabilities():
    result = CliRunner().invoke(app, ["backends"])
    assert result.exit_code == 0, result.output
    assert "transformers" in result.output and "bridged-first-token" in result.output


def test_torch_int8_quantizes_every_linear_layer_in_place_and_keeps_the_order():
    import torch
    from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

    from rankwise.backends.runtime import dynamic_int8

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    quantized = dynamic_int8(model, "int8", "cpu")
    assert quantized is model  # no fp32 copy kept next to the int8 one (it doubled the peak memory)
    assert all(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in (model[0], model[2]))
    full = Reranker.load("minilm-embed").rerank(FLEA_QUERY, FLEA_PASSAGES)
    int8 = Reranker.load("minilm-embed", quantize="int8").rerank(FLEA_QUERY, FLEA_PASSAGES)
    assert int8.docids == full.docids and full.docids[0] == "1"
    expected = {r.docid: r.score for r in full.results}
    assert {r.docid: r.score for r in int8.results} == pytest.approx(expected, abs=0.1)  # int8 costs ~0.07
    with pytest.raises(OptionError, match="quantize must be 'int8'"):
        dynamic_int8(model, "int4", "cpu")

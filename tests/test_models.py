import json
import os

import pytest

from rankwise import ModelNotAvailableError, Reranker, UnsupportedMethodError
from rankwise.models import MODELS, resolve_model
from rankwise.models.sources import COMPLETE_MARKER, _assemble, sha256_of
from rankwise.rerankers.registry import default_method, methods_for, registered_method


def test_registry_names_and_methods_are_consistent():
    assert {"minilm-embed", "smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(MODELS)
    for spec in MODELS.values():
        # Models rankwise trained itself have no online copy; every other one has a Hugging Face id.
        assert (spec.hf_id is None and spec.local is not None) or spec.hf_id.count("/") == 1
        assert spec.license and registered_method(spec) in methods_for(spec.kind)
        assert (spec.default_method is None) == (spec.preset is not None), spec.name


def test_registered_name_resolves_to_packaged_weights():
    location = resolve_model("minilm-embed")
    assert os.path.isfile(os.path.join(location.path, "model.safetensors"))
    assert default_method(location) == "embedding"


def test_gguf_dequantized_once_then_read_from_cache(monkeypatch):
    first = resolve_model("smollm2-135m")  # session fixtures may already have built the cache
    assert first.path and os.path.isfile(os.path.join(first.path, COMPLETE_MARKER))
    marker = os.path.join(first.path, COMPLETE_MARKER)
    stamp = os.stat(marker).st_mtime_ns

    def no_conversion(*args, **kwargs):
        raise AssertionError("the cached model was converted again")

    import transformers

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_conversion)
    second = resolve_model("smollm2-135m")
    assert second.path == first.path and os.stat(marker).st_mtime_ns == stamp


def test_method_the_model_does_not_support_is_refused():
    with pytest.raises(
        UnsupportedMethodError,
        match="model 'minilm-embed' \\(text-encoder\\) supports embedding, "
        "embedding-prf, feedback-knn, e2rank, fast-forward, maxsim, not 'llm-pointwise'",
    ):
        Reranker.load("minilm-embed", method="llm-pointwise")
    with pytest.raises(UnsupportedMethodError, match="unknown method 'telepathy'"):
        Reranker.load("minilm-embed", method="telepathy")


def test_unknown_names_and_paths_are_explained(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="unknown model 'no-such-model'"):
        Reranker.load("no-such-model")
    with pytest.raises(ModelNotAvailableError, match="not a model directory"):
        Reranker.load(str(tmp_path / "missing"))


def test_hub_id_offline_fails_with_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="cannot load model 'rankwise-test/does-not-exist'"):
        Reranker.load("rankwise-test/does-not-exist", method="embedding")


def test_unregistered_directory_default_method_follows_architecture(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"]}))
    from rankwise.models.resolve import ModelLocation

    assert default_method(ModelLocation(str(tmp_path))) == "llm-pointwise"
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    assert default_method(ModelLocation(str(tmp_path))) == "embedding"


def test_split_parts_are_assembled_in_order_and_checked(tmp_path):
    import hashlib

    parts = []
    for i, chunk in enumerate([b"first-", b"second-", b"third"]):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(chunk)
        parts.append(part)
    whole = b"first-second-third"
    target = tmp_path / "out" / "model.gguf"
    _assemble(parts, target, hashlib.sha256(whole).hexdigest(), len(whole))
    assert target.read_bytes() == whole and sha256_of(target) == hashlib.sha256(whole).hexdigest()
    with pytest.raises(ModelNotAvailableError, match="a part package is corrupt or of the wrong version"):
        _assemble(list(reversed(parts)), tmp_path / "out" / "other.gguf", hashlib.sha256(whole).hexdigest(), len(whole))
    assert not (tmp_path / "out" / "other.gguf").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.gguf"]  # no partial file left behind


@pytest.mark.slow  # 20 s of subprocess loads
def test_loading_is_quiet_unless_verbose():
    """Issue 38 item 11: transformers' "Loading weights" bar printed into every library user's stderr."""
    import subprocess
    import sys

    code = "from rankwise import Reranker; Reranker.load('minilm-embed').rerank('q', ['a', 'b'])"
    # The user's own switches for the libraries' bars stay theirs: none set here.
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE")}
    quiet = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "RANKWISE_VERBOSE": "0"}
    )
    loud = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "RANKWISE_VERBOSE": "1"}
    )
    assert quiet.returncode == loud.returncode == 0
    assert "Loading weights" not in quiet.stderr
    assert "Loading weights" in loud.stderr

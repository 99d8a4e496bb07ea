"""The default encoder backend is chosen by measurement (issue 42 item 2): the fastest installed backend whose
fp32 scores equal the transformers backend's, recorded per weights, work, CPU and threads; a model opened
with no backend named uses the record, `backend=auto` measures when there is none."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import FLEA_PASSAGES as PASSAGES
from conftest import FLEA_QUERY

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'rankwise[onnx]'")

from rankwise import OptionError, Reranker
from rankwise.backends import choice
from rankwise.backends.interface import LANGUAGE_MODEL, Capability
from rankwise.backends.registry import locate, runtime_options
from rankwise.cli import app
from rankwise.types import Candidate, Query, Request

MODULES = {"transformers": "rankwise.backends.encoder", "onnx": "rankwise.backends.onnx_runtime"}
EMBED = frozenset({Capability.EMBED})


@pytest.fixture
def isolated(tmp_path, monkeypatch, tmp_path_factory):
    """A choices file of this test's own, and one conversion cache for the module."""
    monkeypatch.setenv("RANKWISE_BACKEND_CHOICES", str(tmp_path / "choices.json"))
    monkeypatch.setenv("RANKWISE_CACHE", str(tmp_path_factory.getbasetemp() / "choice-cache"))
    return tmp_path / "choices.json"


def _scores(reranker) -> dict[str, float]:
    request = Request(Query("q", FLEA_QUERY), [Candidate(str(i), p) for i, p in enumerate(PASSAGES)])
    return {r.docid: r.score for r in reranker.rerank_batch([request])[0].results}


def _set_recorded_backend(path, backend: str) -> None:
    """Edit the one record in the choices file, as if `backend` had measured fastest."""
    choices = json.loads(path.read_text())
    (entry,) = choices.values()
    entry["backend"] = backend
    path.write_text(json.dumps(choices))


def test_the_fastest_equal_backend_is_recorded_and_opened_by_default(isolated):
    location = locate("minilm-embed", None)
    assert choice.recorded(location, EMBED, None) is None
    assert type(Reranker.load("minilm-embed").encoder).__module__ == MODULES["transformers"]  # nothing recorded

    measured = choice.measure(location, EMBED, candidates=("transformers", "onnx"), texts=PASSAGES * 4)
    by_name = {m.backend: m for m in measured.measurements}
    assert set(by_name) == {"transformers", "onnx"}
    assert by_name["transformers"].max_diff == 0.0 and by_name["onnx"].max_diff < choice.EQUAL
    assert measured.backend == max(by_name.values(), key=lambda m: m.docs_per_second).backend
    assert choice.recorded(location, EMBED, None) == measured
    assert choice.recorded(location, EMBED, 1) is None  # a choice holds for its thread count only

    reference = _scores(Reranker.load("minilm-embed", backend="transformers"))
    for backend in ("onnx", "transformers"):
        _set_recorded_backend(isolated, backend)
        default = Reranker.load("minilm-embed")
        assert type(default.encoder).__module__ == MODULES[backend]
        assert _scores(default) == pytest.approx(reference, abs=1e-4)
        # an option only the transformers backend takes keeps it
        assert type(Reranker.load("minilm-embed", dtype="float32").encoder).__module__ == MODULES["transformers"]


def test_auto_measures_once_then_reads_the_record(isolated, monkeypatch):
    calls = []
    measure = choice.measure
    monkeypatch.setattr(
        choice, "measure", lambda *a, **k: calls.append(a) or measure(*a, texts=PASSAGES, candidates=("onnx",))
    )
    first = Reranker.load("minilm-embed", backend="auto")
    second = Reranker.load("minilm-embed", backend="auto")
    assert len(calls) == 1 and isolated.is_file()
    (entry,) = json.loads(isolated.read_text()).values()
    assert type(first.encoder).__module__ == type(second.encoder).__module__ == MODULES[entry["backend"]]


def test_a_changed_model_folder_is_measured_again(isolated, tmp_path):
    import shutil

    folder = tmp_path / "minilm"
    shutil.copytree(locate("minilm-embed", None).path, folder)
    location = locate(str(folder), None)
    choice.measure(location, EMBED, candidates=("transformers",), texts=PASSAGES)
    assert choice.recorded(location, EMBED, None) is not None
    (folder / "config.json").write_text((folder / "config.json").read_text() + "\n")
    assert choice.recorded(locate(str(folder), None), EMBED, None) is None


def test_auto_refuses_options_of_one_backend_and_runs_llms_on_transformers():
    with pytest.raises(OptionError, match=r"quantize='int8' does not go with backend=auto.*name the backend instead"):
        runtime_options(backend="auto", quantize="int8")
    runtime = choice.resolve(locate("smollm2-135m", None), runtime_options(backend="auto"), LANGUAGE_MODEL)
    assert runtime.backend == "transformers"
    assert choice.work_kind(frozenset({Capability.EMBED, Capability.TOKEN_EMBED})) == "embed+tokens"
    assert choice.work_kind(frozenset({Capability.SCORE_PAIRS})) == "score-pairs"


def test_the_cli_refuses_to_measure_an_llm_method(isolated):
    result = CliRunner().invoke(app, ["backends", "--measure", "smollm2-135m", "--method", "llm-pointwise"])
    assert result.exit_code == 2
    assert "method 'llm-pointwise' is not an encoder's work" in result.output
    assert not isolated.exists()


@pytest.mark.slow  # times three backends on 128 texts (about 40 s)
def test_the_cli_measures_and_records(isolated):
    result = CliRunner().invoke(app, ["backends", "--measure", "minilm-embed"])
    assert result.exit_code == 0, result.output
    assert "recorded in" in result.output and "now opens with backend" in result.output
    (entry,) = json.loads(isolated.read_text()).values()
    assert entry["work"] == "embed" and entry["backend"] in {"transformers", "onnx", "openvino"}

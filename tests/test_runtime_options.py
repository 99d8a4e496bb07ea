"""One route for runtime options: `split_options` tells them from method options for every interface, each
backend takes only its own, and every command that loads a reranker takes the same flags, each once."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES
from rankwise import Reranker
from rankwise.backends.options import OpenAIOptions, TransformersOptions
from rankwise.backends.registry import BACKENDS, runtime_option_names, split_options
from rankwise.cli import app
from rankwise.errors import OptionError

runner = CliRunner()
FLEAS = ["-q", "how long do fleas live", "--docs", str(EXAMPLES / "fleas.jsonl")]


def test_split_gives_the_chosen_backend_its_own_option_class_and_leaves_the_rest():
    runtime, rest = split_options({"batch_size": 8, "window": 4, "threads": 1})
    assert isinstance(runtime, TransformersOptions) and (runtime.batch_size, runtime.threads) == (8, 1)
    assert rest == {"window": 4}
    runtime, rest = split_options({"backend": "openai", "base_url": "http://x/v1", "top_logprobs": 5})
    assert isinstance(runtime, OpenAIOptions) and (runtime.base_url, runtime.top_logprobs) == ("http://x/v1", 5)
    assert rest == {}
    assert runtime.overrides() == {"backend": "openai", "base_url": "http://x/v1", "top_logprobs": 5}


def test_an_option_of_another_backend_is_refused_naming_the_backends_that_take_it():
    with pytest.raises(
        OptionError,
        match=r"runtime option base_url='http://x' does not apply to backend "
        r"'transformers' \(backends that take it: openai\)",
    ):
        split_options({"base_url": "http://x"})
    with pytest.raises(OptionError, match="option adapter='a' does not apply to backend 'onnx': only a registered"):
        split_options({"backend": "onnx", "adapter": "a"})
    with pytest.raises(OptionError, match="backend 'transformers': option batch_size must be an integer"):
        split_options({"batch_size": "eight"})
    with pytest.raises(OptionError, match="option backend must be a string"):
        split_options({"backend": 3})


def test_no_method_option_shares_a_name_with_a_runtime_option():
    """The split is by name, so a method option called like a runtime one would never reach its method."""
    from rankwise.rerankers.registry import METHODS, method_class

    runtime = runtime_option_names()
    for method in METHODS:
        names = {f.name for f in dataclasses.fields(method_class(method).Options)}
        assert not names & runtime, (method, names & runtime)
    assert {"base_url", "quantize", "adapter"} <= runtime
    assert "base_url" not in BACKENDS["transformers"].option_names()


def test_runtime_options_given_as_method_options_reach_the_backend(minilm):
    reranker = Reranker.load("minilm-embed", batch_size=8, max_length=64)
    assert (reranker.encoder.options.batch_size, reranker.encoder.max_length) == (8, 64)
    # A fusion model hands its runtime options to every stage that runs a model.
    fused = Reranker.load("minilm-maxsim-fusion-dl21", batch_size=4)
    assert [stage.encoder.options.batch_size for stage in fused.stages] == [4] * len(fused.stages)


def test_cli_runtime_option_given_as_O_loads_and_twice_is_one_line_error():
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "-O", "batch_size=8"])
    assert result.exit_code == 0, result.output
    assert "flea" in result.output.lower()
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "--batch-size", "4", "-O", "batch_size=8"])
    assert result.exit_code == 2, result.output
    assert "option batch_size given twice (--batch-size 4 and -O batch_size=8); give it once" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "-O", "max_length=64", "-O", "max_length=32"])
    assert (
        result.exit_code == 2
        and "option max_length given twice (-O max_length=64 and -O max_length=32)" in result.output
    )
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "-O", "base_url=http://x/v1"])
    assert result.exit_code == 2 and "does not apply to backend 'transformers'" in result.output


def test_cli_backend_as_O_option_loads_that_backend():
    pytest.importorskip("onnxruntime")
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "-O", "backend=onnx"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["rerank", "-m", "minilm-embed", *FLEAS, "--backend", "onnx", "-O", "backend=onnx"])
    assert result.exit_code == 2 and "option backend given twice" in result.output


def test_serve_and_bench_and_label_take_the_same_flags_as_rerank(monkeypatch, tmp_path):
    import rankwise.server
    from rankwise.server import serve as serve_module

    loaded = []
    real_load = Reranker.load

    def recording_load(*args, **kwargs):
        loaded.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(Reranker, "load", staticmethod(recording_load))
    monkeypatch.setattr(rankwise.server, "create_app", lambda served, settings: served)
    # load every served model at once, serve nothing
    monkeypatch.setattr(serve_module, "run", lambda served, *a, **k: [model.reranker() for model in served])
    # --device, not --threads: a thread count would stay set for the rest of the test session
    result = runner.invoke(
        app, ["serve", "-m", "minilm-embed", "--device", "cpu", "-O", "batch_size=8", "-O", "query_prefix=q: "]
    )
    assert result.exit_code == 0, result.output
    assert loaded[-1] == {"method": None, "batch_size": 8, "device": "cpu", "query_prefix": "q: "}
    result = runner.invoke(app, ["serve", "-m", "minilm-embed", "--threads", "1", "-O", "threads=2"])
    assert result.exit_code == 2 and "option threads given twice" in result.output
    result = runner.invoke(
        app,
        ["bench", "--dataset", str(tmp_path), "--rerankers", "minilm-embed", "--batch-size", "8", "-O", "batch_size=4"],
    )
    assert result.exit_code == 2 and "option batch_size given twice" in result.output
    result = runner.invoke(
        app,
        [
            "label",
            "-m",
            "minilm-embed",
            "-i",
            str(tmp_path / "x.json"),
            "-o",
            str(tmp_path / "l.jsonl"),
            "--device",
            "cpu",
            "-O",
            "device=cpu",
        ],
    )
    assert result.exit_code == 2 and "option device given twice" in result.output

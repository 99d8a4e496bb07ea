"""Options are declared once (a dataclass per method, per backend, for the wrappers): constructors take the
checked options object, help and `rankwise methods` are generated from the declarations, and -O and a spec's
{key=value} read values with one parser."""

import dataclasses
import inspect

import pytest
from typer.testing import CliRunner

from rankwise.backends.registry import runtime_option_names
from rankwise.cli.common import OPTION_FLAG
from rankwise.cli.main import app
from rankwise.errors import OptionError
from rankwise.options import option_docs, parse_options
from rankwise.rerankers.compose.spec import parse_spec
from rankwise.rerankers.registry import METHODS, method_class
from rankwise.rerankers.wrappers.keywords import WRAPPER_KEYWORDS, WrapperOptions

runner = CliRunner()


@pytest.mark.parametrize("method", [m for m in METHODS if m != "fusion"])
def test_constructors_take_the_checked_options_object(method):
    # no default lives in a constructor: it takes (backend, model label, Options) and nothing else
    cls = method_class(method)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert len(parameters) == 3, f"{method}: {parameters}"
    assert all(p.default is inspect.Parameter.empty for p in parameters)
    assert parameters[2].name == "options"


@pytest.mark.parametrize("method", list(METHODS))
def test_every_option_has_help_type_and_default(method):
    for doc in option_docs(method_class(method).Options):
        assert doc.help and doc.type and doc.default, (method, doc)


def test_build_checks_keyword_options_as_load_does():
    first = method_class("first")
    with pytest.raises(OptionError, match=r"method 'first' got unknown option\(s\): windw"):
        first.build(object(), "x", windw=3)
    with pytest.raises(OptionError, match="option window=0 must be >= 1"):
        first.build(object(), "x", window=0)


def test_methods_command_lists_each_option_from_its_declaration():
    result = runner.invoke(app, ["methods", "fast-forward"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for doc in option_docs(method_class("fast-forward").Options):
        assert doc.name in result.output
    assert "a number (>= 0, <= 1)" in result.output and "0.01" in result.output
    listing = runner.invoke(app, ["methods"], terminal_width=300)
    assert all(name in listing.output for name in METHODS)
    unknown = runner.invoke(app, ["methods", "nope"])
    assert unknown.exit_code == 2 and "unknown method 'nope'" in unknown.output


def test_option_help_is_generated_from_the_declarations():
    help_text = OPTION_FLAG.help
    for name in runtime_option_names() | WRAPPER_KEYWORDS | {"preset"}:
        assert name in help_text
    assert "rankwise methods METHOD" in help_text


def test_one_parser_reads_cli_and_spec_values_alike():
    pairs = ["k=60", "alpha=0.5", "calibrate=false", "prompt=rank_gpt", "layer=null"]
    from_cli = parse_options(pairs)
    (stage,) = parse_spec("rrf(maxsim:m{" + ",".join(pairs) + "}, embedding:m)", set(METHODS))
    assert (
        stage.members[0].options
        == from_cli
        == {
            "k": 60,
            "alpha": 0.5,
            "calibrate": False,
            "prompt": "rank_gpt",
            "layer": None,
        }
    )
    # an answer token's leading space survives -O; a spec written inline is stripped
    assert parse_options(["answer_tokens= true, false"]) == {"answer_tokens": " true, false"}
    with pytest.raises(OptionError, match="option k given twice"):
        parse_spec("maxsim:m{k=1, k=2}", set(METHODS))
    with pytest.raises(OptionError, match="option 'k' is not KEY=VALUE"):
        parse_options(["k"])


def test_wrapper_keywords_are_checked_where_declared():
    assert {f.name for f in dataclasses.fields(WrapperOptions)} == WRAPPER_KEYWORDS
    from rankwise import Reranker

    with pytest.raises(OptionError, match="Reranker.load: option passage_tokens=0 must be >= 1"):
        Reranker.load("minilm-embed", long_documents="maxp", passage_tokens=0)


@pytest.mark.parametrize("trainer", ["first", "bi-encoder", "late-interaction", "cross-encoder", "grpo"])
def test_training_configs_share_one_base_and_list_their_options(trainer):
    from rankwise.cli.train import _config_class
    from rankwise.pipelines.train.config import TrainingConfig

    config = _config_class(trainer)
    assert issubclass(config, TrainingConfig)
    names = {f.name for f in dataclasses.fields(config)}
    assert {"lr", "seed", "checkpoint_steps"} <= names and "checkpoint_every" not in names
    result = runner.invoke(app, ["train", "options", trainer], terminal_width=250)
    assert result.exit_code == 0, result.output
    assert all(doc.name in result.output and doc.help for doc in option_docs(config))


def test_a_training_config_is_checked_when_built_in_python():
    from rankwise.pipelines.train.first import FirstTrainingConfig

    with pytest.raises(OptionError, match="FirstTrainingConfig: option window=1 must be >= 2"):
        FirstTrainingConfig(window=1)
    with pytest.raises(OptionError, match="option lr must be a number, got str"):
        FirstTrainingConfig(lr="fast")

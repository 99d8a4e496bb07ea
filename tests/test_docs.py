"""The documentation site (issue 43): every registered method (with every option), preset, checkpoint,
backend (with its runtime options) and CLI command has a generated reference entry, and every code block
of the guides runs (python and bash). The strict site build itself runs in `make test` (`make docs`)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = sorted((ROOT / "docs" / "guides").glob("*.md"))


def generator():
    """docs/gen_reference.py as a module of its own name: run by path (as mkdocs-gen-files runs it, with
    __name__ "<run_path>") it would write its pages into docs/ outside a build."""
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pages():
    return generator().pages()


def test_every_method_and_each_of_its_options_has_an_entry(pages):
    from rankwise.options import option_docs
    from rankwise.rerankers.registry import METHODS, method_class

    for name in METHODS:
        page = pages[f"reference/methods/{name}.md"]
        for doc in option_docs(method_class(name).Options):
            assert f"| `{doc.name}` |" in page, f"option {doc.name} of {name} has no row"
        assert f"[`{name}`](methods/{name}.md)" in pages["reference/index.md"]


def test_every_preset_checkpoint_and_backend_has_an_entry(pages):
    from rankwise.backends.registry import BACKENDS
    from rankwise.models.registry import MODELS
    from rankwise.rerankers.presets import PRESETS

    for name, preset in PRESETS.items():
        assert f"| `{name}` |" in pages["reference/presets.md"]
        # the fidelity test a preset names exists and names the family (the preset, its prompt or its model)
        text = (ROOT / preset.test).read_text(encoding="utf-8").lower()
        assert preset.reference and any(n in text for n in (name, name.replace("-", "_"), name.split("-")[0])), name
    for name, spec in MODELS.items():
        page = pages[f"reference/models/{name}.md"]
        assert page.startswith(f"# `{name}`") and (spec.hf_id is None or spec.hf_id in page)
    for name, entry in BACKENDS.items():
        section = pages["reference/backends.md"].split(f"## `{name}`")[1].split("\n## ")[0]
        own = {f.name for f in dataclasses.fields(entry.options)}
        assert all(f"| `{option}` |" in section for option in own), name


def test_every_command_and_each_of_its_options_has_an_entry(pages):
    import typer

    from rankwise.cli import app

    page = pages["reference/cli.md"]

    def walk(group, prefix):
        for name, command in getattr(group, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            section = page.split(f"## `rankwise {full}`\n")[1].split("\n## ")[0]
            for param in command.params:
                if param.param_type_name == "option":
                    assert f"`{param.opts[0]}`" in section, f"{full} {param.opts[0]}"
            walk(command, full)

    walk(typer.main.get_command(app), "")
    assert page.count("## `rankwise ") >= 15


def test_a_method_page_says_what_the_method_needs_and_links_its_checkpoints(pages):
    page = pages["reference/methods/llm-pointwise.md"]
    assert "next-token-logprobs, tokenize" in page and "| score kind | `unbounded` |" in page
    assert "[`qwen3-reranker-0.6b`](../models/qwen3-reranker-0.6b.md)" in page
    assert "`qwen3-reranker`" in page  # its preset, with the reference implementation
    # an answer written "[C] > [A]" in a docstring stays text (escaped), not a broken link reference
    assert '"\\[C\\] > \\[A\\] > ..."' in pages["reference/methods/listwise-generate.md"]


def guide_blocks(guide: Path) -> list[tuple[str, str, bool]]:
    """(language, code, slow) of each python or bash block of a guide, in order; `<!-- slow -->` on the line
    before a block marks it for the opt-in suite (`-m slow`); the walkthrough block (`<!-- walkthrough ...
    -->`) is left to tests/test_walkthrough.py, which runs it on DL 2022 data."""
    text = guide.read_text(encoding="utf-8")
    found = re.finditer(r"(<!-- (slow|walkthrough)[^>]*-->\n)?```(python|bash)\n(.*?)```", text, flags=re.S)
    return [(m.group(3), m.group(4), m.group(2) == "slow") for m in found if m.group(2) != "walkthrough"]


def run_guide(guide: Path, slow: bool) -> None:
    import os
    import subprocess
    import sys

    namespace: dict = {}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for i, (language, code, marked) in enumerate(guide_blocks(guide)):
        if marked and not slow:
            continue
        where = f"{guide.name}: {language} block {i + 1}"
        if language == "bash":
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{where} exits {done.returncode}: {done.stderr[-2000:]}"
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as error:  # the guide's words, not only a traceback
            pytest.fail(f"{where} fails: {type(error).__name__}: {error}")


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_code_block_of_a_guide_runs(guide):
    assert guide_blocks(guide), f"{guide.name} has no code block"
    run_guide(guide, slow=False)


@pytest.mark.slow  # the blocks marked slow too (make setup, ...)
@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_code_block_of_a_guide_runs_slow_ones_included(guide):
    run_guide(guide, slow=True)


def test_every_route_has_an_entry_with_an_example_the_app_answered(pages):
    page = pages["reference/http.md"]
    sections = page.split("\n## ")[1:]
    routes = generator().HTTP_EXAMPLES
    assert {s.split("`")[1] for s in sections} == {f"{m.upper()} {p}" for m, p in routes}
    for section in sections:
        assert "Example request:" in section and "Response (200):" in section, section[:200]
    assert '"relevance_score"' in page and "| `documents` | yes |" in page


def test_generated_pages_never_land_in_the_source_folder(pages):
    # they exist only in a build (site/); a copy in docs/ would be a page written by hand from then on
    assert not (ROOT / "docs" / "reference" / "methods").exists() and not (ROOT / "docs" / "figures").exists()
    assert sorted(p.name for p in (ROOT / "docs" / "reference").iterdir()) == ["python.md"]

"""The reference pages, generated from the code at every docs build (mkdocs-gen-files runs this file), never
written by hand: one page per method (from the method registry and each method's option declaration), one
per registered checkpoint, the presets, the backends with their runtime options, and the CLI (from the Typer
app). `pages()` returns them as {path: markdown}; tests/test_docs.py checks that every registered method,
option, preset, checkpoint, backend and command has its entry."""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip() or "-"


def _text(value: object) -> str:
    """Text read from the code (docstrings, help, prompts), its brackets escaped: "[2] > [1]" is an example of
    an answer, not a Markdown link reference."""
    return str(value).replace("[", "\\[").replace("]", "\\]")


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


@functools.cache
def _test_texts() -> dict[str, str]:
    """Every test file's text, read once per build."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").glob("test_*.py"))}


def _tests_naming(pattern: str) -> list[str]:
    """The test files whose text matches `pattern` (the tests that load a method or preset by name)."""
    return [name for name, text in _test_texts().items() if re.search(pattern, text)]


def method_page(name: str) -> str:
    from rankwise.models.registry import MODELS
    from rankwise.options import option_docs
    from rankwise.rerankers.presets import PRESETS
    from rankwise.rerankers.registry import METHODS, method_class

    cls = method_class(name)
    module = sys.modules[cls.__module__]
    presets = [p for p in PRESETS.values() if p.method == name]
    checkpoints = [
        s for s in MODELS.values() if s.default_method == name or (s.preset and s.preset in {p.name for p in presets})
    ]
    tests = _tests_naming(rf"method=\"{re.escape(name)}\"|\"{re.escape(name)}\"")
    parts = [
        f"# `{name}`\n",
        _text((inspect.getdoc(module) or "").strip()) + "\n",
        _table(
            ["", ""],
            [
                ["class", f"`{cls.__module__}.{cls.__name__}` (registry: `{METHODS[name]}`)"],
                ["model kinds", ", ".join(cls.model_kinds)],
                [
                    "backend capabilities it needs",
                    ", ".join(sorted(c.value for c in cls.requires)) or "none (it loads other rerankers)",
                ],
                ["score kind", f"`{cls.score_kind.value}`"],
                ["takes explicit feedback", "yes" if getattr(cls, "takes_feedback", False) else "no"],
            ],
        ),
        "## Options\n",
        'Given as `Reranker.load(model, method="' + name + '", key=value)` or `-O key=value` on the CLI; '
        "checked at load against this declaration.\n",
    ]
    docs = option_docs(cls.Options)
    parts.append(
        _table(
            ["option", "type", "default", "help"],
            ([f"`{d.name}`", _text(d.type), f"`{d.default}`", _text(d.help)] for d in docs),
        )
        if docs
        else "No options of its own.\n"
    )
    parts.append("## Presets\n")
    parts.append(
        _table(
            ["preset", "options", "reference implementation", "fidelity test"],
            ([f"`{p.name}`", _text(dict(p.options) or "-"), _text(p.reference), f"`{p.test}`"] for p in presets),
        )
        if presets
        else "None.\n"
    )
    parts.append("## Registered checkpoints\n")
    parts.append(
        ", ".join(f"[`{s.name}`](../models/{s.name}.md)" for s in checkpoints) + "\n" if checkpoints else "None.\n"
    )
    parts.append("## Tests that load it\n")
    parts.append(", ".join(f"`tests/{t}`" for t in tests) + "\n" if tests else "None found by name.\n")
    return "\n".join(parts)


def model_page(name: str) -> str:
    from rankwise.models.registry import MODELS
    from rankwise.rerankers.presets import PRESETS
    from rankwise.rerankers.registry import registered_method

    spec = MODELS[name]
    method = registered_method(spec)  # from the registry row alone: the docs never locate or assemble weights
    preset = PRESETS.get(spec.preset) if spec.preset else None
    rows = [
        ["Hugging Face id", f"`{spec.hf_id}`" if spec.hf_id else "none (trained and shipped by rankwise)"],
        ["size", spec.parameters or "-"],
        ["license", spec.license],
        ["kind", spec.kind],
        ["preset", f"`{spec.preset}`" if spec.preset else "-"],
        ["default method", f"[`{method}`](../methods/{method}.md)"],
        ["reference implementation", _text(preset.reference) if preset else "-"],
        ["fidelity test", f"`{preset.test}`" if preset else "-"],
        ["calibration shipped", spec.calibration or "-"],
    ]
    return f"# `{name}`\n\n{_text(spec.description)}\n\n" + _table(["", ""], rows)


def presets_page() -> str:
    from rankwise.models.registry import MODELS
    from rankwise.rerankers.presets import PRESETS

    def registered(preset: str) -> str:
        names = [f"`{spec.name}`" for spec in MODELS.values() if spec.preset == preset]
        return ", ".join(names) or "- (load a folder or id with `preset=`)"

    rows = (
        [
            f"`{p.name}`",
            registered(p.name),
            f"[`{p.method}`](methods/{p.method}.md)",
            _text(dict(p.options) or "-"),
            _text(dict(p.runtime) or "-"),
            _text(p.reference),
            f"`{p.test}`",
        ]
        for p in PRESETS.values()
    )
    header = ["preset", "registry names", "method", "options", "runtime options", "reference implementation"]
    header.append("fidelity test")
    intro = "A preset is data: the method, template, tokens and options a checkpoint family was trained with"
    return f"# Presets\n\n{intro} (`preset=NAME`).\n\n" + _table(header, rows)


def backends_page() -> str:
    import dataclasses

    from rankwise.backends.registry import BACKENDS
    from rankwise.options import option_docs

    parts = [
        "# Backends\n",
        "Each backend declares the capabilities it offers; a method whose needs a backend lacks is refused at load.\n",
    ]
    for entry in BACKENDS.values():
        capabilities = ", ".join(sorted(c.value for c in entry.capabilities))
        parts.append(
            f"## `{entry.name}`\n\n{_text(entry.description)}\n\nCapabilities: {capabilities}. "
            f"Install: {_text(entry.install_hint)}.\n"
        )
        own = {f.name for f in dataclasses.fields(entry.options)}
        parts.append(
            _table(
                ["runtime option", "type", "default", "help"],
                (
                    [f"`{d.name}`", _text(d.type), f"`{d.default}`", _text(d.help)]
                    for d in option_docs(entry.options)
                    if d.name in own
                ),
            )
        )
    return "\n".join(parts)


def cli_commands() -> dict[str, object]:
    """Every command of the CLI by its full name ("rerank", "judge agree"), as click objects."""
    import typer

    from rankwise.cli import app

    commands: dict[str, object] = {}

    def walk(group: object, prefix: str) -> None:
        for name, command in getattr(group, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            commands[full] = command
            walk(command, full)

    walk(typer.main.get_command(app), "")
    return commands


def cli_page() -> str:
    parts = ["# Command line\n", "Every `rankwise` command with its arguments and options, read from the CLI itself.\n"]
    for full, command in sorted(cli_commands().items()):
        parts.append(f"## `rankwise {full}`\n\n{_text(inspect.cleandoc(getattr(command, 'help', None) or ''))}\n")
        rows = []
        for param in getattr(command, "params", []):
            if param.param_type_name == "option":
                flags = ", ".join(f"`{o}`" for o in param.opts + param.secondary_opts)
                default = "" if param.default is None or callable(param.default) else f"`{param.default}`"
                rows.append([flags, _text(param.help or ""), default])
            elif param.param_type_name == "argument":
                rows.append([f"`{param.name.upper()}`", "argument", ""])
        if rows:
            parts.append(_table(["parameter", "help", "default"], rows))
    return "\n".join(parts)


QUERY = "how long do fleas live"
DOCUMENTS = ["Adult fleas live two to three months on a host.", "Sourdough needs feeding every day."]
# One example request per route (method, path) -> body (None: no body); a route missing here fails the build.
HTTP_EXAMPLES: dict[tuple[str, str], dict | None] = {
    ("get", "/health"): None,
    ("get", "/ready"): None,
    ("get", "/metrics"): None,
    ("get", "/v1/models"): None,
    ("post", "/v1/rerank"): {"query": QUERY, "documents": DOCUMENTS, "top_n": 2},
    ("post", "/v2/rerank"): {"model": "minilm-embed", "query": QUERY, "documents": DOCUMENTS},
    ("post", "/rerank"): {"query": QUERY, "texts": DOCUMENTS},
    ("post", "/score"): {"text_1": QUERY, "text_2": DOCUMENTS},
    ("post", "/v1/score"): {"queries": [QUERY, QUERY], "documents": DOCUMENTS},
    ("post", "/voyage/v1/rerank"): {"query": QUERY, "documents": DOCUMENTS, "top_k": 1},
}


def http_page() -> str:
    """Every route of `rankwise serve` from its OpenAPI schema, each with one example request sent to the
    real app (serving minilm-embed) and the response it gave, at build time."""
    import json

    from fastapi.testclient import TestClient

    from rankwise import Reranker
    from rankwise.server import ServerSettings, create_app

    app = create_app(Reranker.load("minilm-embed"), ServerSettings(model_name="minilm-embed"))
    schema = app.openapi()
    components = schema.get("components", {}).get("schemas", {})
    parts = [
        "# HTTP API\n",
        "The routes of `rankwise serve`, read from its OpenAPI schema (`/openapi.json` on a running server; "
        "`/docs` renders it). Each example was sent to the app serving `minilm-embed` when these pages were "
        "built, and the response is the one it gave.\n",
    ]
    with TestClient(app) as client:
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                if (method, path) not in HTTP_EXAMPLES:
                    raise KeyError(f"docs/gen_reference.py has no example request for {method.upper()} {path}")
                parts.append(f"## `{method.upper()} {path}`\n\n{_text(operation.get('summary', ''))}\n")
                if operation.get("description"):
                    parts.append(_text(inspect.cleandoc(operation["description"])) + "\n")
                ref = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
                names = re.findall(r"#/components/schemas/(\w+)", json.dumps(ref))
                for name in dict.fromkeys(names):
                    fields = components[name].get("properties", {})
                    required = set(components[name].get("required", []))
                    rows = (
                        [f"`{field}`", "yes" if field in required else "", _text(spec.get("description", ""))]
                        for field, spec in fields.items()
                    )
                    parts.append(f"Body `{name}`:\n\n" + _table(["field", "required", "description"], rows))
                body = HTTP_EXAMPLES[(method, path)]
                response = client.request(method.upper(), path, json=body)
                shown = (
                    response.text
                    if "json" not in response.headers.get("content-type", "")
                    else (json.dumps(response.json(), indent=1))
                )
                if path == "/metrics":
                    shown = "\n".join(shown.splitlines()[:12]) + "\n..."
                request = f"{method.upper()} {path}" + (f"\n\n{json.dumps(body, indent=1)}" if body else "")
                parts.append(f"Example request:\n\n```text\n{request}\n```\n")
                parts.append(f"Response ({response.status_code}):\n\n```text\n{shown}\n```\n")
    return "\n".join(parts)


def pages() -> dict[str, str]:
    from rankwise.models.registry import MODELS
    from rankwise.rerankers.registry import METHODS

    out = {f"reference/methods/{name}.md": method_page(name) for name in METHODS}
    out.update({f"reference/models/{name}.md": model_page(name) for name in MODELS})
    out["reference/presets.md"] = presets_page()
    out["reference/backends.md"] = backends_page()
    out["reference/cli.md"] = cli_page()
    out["reference/http.md"] = http_page()
    index = ["# Reference\n", "Generated from the code at every build.\n", "## Methods\n"]
    index += [f"- [`{name}`](methods/{name}.md)" for name in METHODS]
    index += ["\n## Checkpoints\n"] + [
        f"- [`{name}`](models/{name}.md): {MODELS[name].description[:100]}" for name in MODELS
    ]
    index += [
        "\n## More\n",
        "- [Presets](presets.md)",
        "- [Backends](backends.md)",
        "- [Command line](cli.md)",
        "- [HTTP API](http.md)",
        "- [Python API](python.md)",
    ]
    out["reference/index.md"] = "\n".join(index) + "\n"
    return out


if __name__ == "__main__":  # by hand: the pages it would write
    for path in pages():
        print(path)
elif __name__ == "<run_path>":  # by mkdocs-gen-files, during a build
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as f:
            f.write(text)
    # The plots the benchmark scripts write, as they last wrote them (never pasted into docs/).
    for png in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        with mkdocs_gen_files.open(f"figures/{png.name}", "wb") as f:
            f.write(png.read_bytes())

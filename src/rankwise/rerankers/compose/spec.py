"""Reranker spec strings: cascades and rank fusions written where a model name goes.

    spec    := stage (">>" stage)*              a cascade: each stage reranks the top k of the one before
    stage   := unit ["@" K]                     K: how many incoming candidates the stage reranks (all if absent)
    unit    := "rrf(" member ("," member)* ")" [options]   reciprocal rank fusion of the members' rankings
             | member
    member  := METHOD ":" MODEL [options]       a registered method over a model name, path or HF id
    options := "{" key "=" value ("," key "=" value)* "}"   ints, floats, true/false, or text

Examples: `maxsim:minilm-embed@100 >> first:qwen2.5-coder-0.5b{window_size=10}@20`,
`rrf(maxsim:minilm-embed, embedding:minilm-embed){k=60}`. A `.yaml`/`.yml`/`.json` file with the same
structure (`{"cascade": [{"method", "model", "options", "top_k"} | {"rrf": [members], "k", "top_k"}]}`) is
accepted too. Parsing only builds the plan; `rerankers.registry` loads it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankwise.errors import InputError, OptionError
from rankwise.options import parse_options

SPEC_FILE_SUFFIXES = (".yaml", ".yml", ".json")
_MEMBER = re.compile(r"^(?P<method>[a-z][a-z0-9-]*):(?P<model>[^{}@]+?)\s*(?:\{(?P<options>[^{}]*)\})?$")


@dataclass(frozen=True)
class RerankerSpec:
    """The one description of a reranker not yet loaded: the arguments of `Reranker.load` (a model name, path
    or spec string, an optional method, options). A spec string's members parse into these, a fusion's
    feature stages are these (with a name), jobs that run on several processes (Ray) ship one instead of a
    loaded model, and a benchmark names its rows by `label`. `rerankers.registry.load_spec` loads it."""

    model: str
    method: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.method}:{self.model}" if self.method else self.model

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "method": self.method, "options": self.options}


@dataclass(frozen=True)
class StagePlan:
    members: tuple[RerankerSpec, ...]  # one, or several fused by reciprocal rank
    top_k: int | None = None
    rrf_options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_rrf(self) -> bool:
        return len(self.members) > 1


def _options(text: str | None, where: str) -> dict[str, Any]:
    if not text or not text.strip():
        return {}
    try:
        return parse_options(text.split(","), flag="in", strip=True)
    except OptionError as e:
        raise OptionError(f"{e} in {where!r}") from None


def _member(text: str, methods: set[str]) -> RerankerSpec:
    match = _MEMBER.match(text.strip())
    if not match:
        raise InputError(f"malformed reranker {text.strip()!r}: expected method:model[{{key=value,...}}]")
    if match["method"] not in methods:
        raise InputError(
            f"unknown method {match['method']!r} in {text.strip()!r}; available: {', '.join(sorted(methods))}"
        )
    return RerankerSpec(match["model"].strip(), match["method"], _options(match["options"], text.strip()))


def split_top_level(text: str) -> list[str]:
    """Split on the commas outside option blocks and rrf(...) (a list of specs, as `rankwise bench` takes)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char in "{(") - (char in "})")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def _stage(text: str, methods: set[str]) -> StagePlan:
    body, top_k = text.strip(), None
    head, at, k = body.rpartition("@")
    if at and re.fullmatch(r"\s*\d+\s*", k):
        body, top_k = head.strip(), int(k)
        if top_k < 1:
            raise InputError(f"@{top_k} in {text.strip()!r}: a stage reranks at least 1 candidate")
    if body.startswith("rrf("):
        match = re.fullmatch(r"rrf\((?P<members>.*)\)\s*(?:\{(?P<options>[^{}]*)\})?", body, flags=re.S)
        if not match:
            raise InputError(f"malformed fusion {body!r}: expected rrf(method:model, ...)[{{k=60}}]")
        members = tuple(_member(m, methods) for m in split_top_level(match["members"]))
        if len(members) < 2:
            raise InputError(f"{body!r} fuses {len(members)} ranking; rrf needs at least 2")
        return StagePlan(members, top_k, _options(match["options"], body))
    return StagePlan((_member(body, methods),), top_k)


def is_spec(name: str, methods: set[str]) -> bool:
    """Whether a model name is a spec (a cascade, a fusion, `method:model`, or a spec file) rather than a
    plain model name, path or Hugging Face id."""
    if ">>" in name or name.strip().startswith("rrf("):
        return True
    if name.endswith(SPEC_FILE_SUFFIXES) and Path(name).is_file():
        return True
    match = _MEMBER.match(name.strip())
    return bool(match and match["method"] in methods)


def parse_spec(text: str, methods: set[str]) -> list[StagePlan]:
    if text.endswith(SPEC_FILE_SUFFIXES) and Path(text).is_file():
        return _from_file(Path(text), methods)
    stages = [_stage(part, methods) for part in text.split(">>")]
    return stages


def _from_file(path: Path, methods: set[str]) -> list[StagePlan]:
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"unreadable reranker spec: {e}", source=str(path)) from None
    if path.suffix == ".json":
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError as e:
            raise InputError(f"malformed JSON: {e}", source=str(path)) from None
    else:
        import yaml

        try:
            entry = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise InputError(f"malformed YAML: {e}", source=str(path)) from None
    if not isinstance(entry, dict) or not isinstance(entry.get("cascade"), list) or not entry["cascade"]:
        raise InputError("a reranker spec file holds {cascade: [stage, ...]}", source=str(path))

    def member(item: Any) -> RerankerSpec:
        if not isinstance(item, dict) or not {"method", "model"} <= set(item):
            raise InputError(f"a member needs method and model, got {item!r}", source=str(path))
        if item["method"] not in methods:
            raise InputError(f"unknown method {item['method']!r}", source=str(path))
        options = item.get("options") or {}
        if not isinstance(options, dict):
            raise InputError(f"options must be a mapping, got {options!r}", source=str(path))
        return RerankerSpec(str(item["model"]), str(item["method"]), dict(options))

    stages = []
    for item in entry["cascade"]:
        top_k = item.get("top_k") if isinstance(item, dict) else None
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise InputError(f"top_k must be a positive integer, got {top_k!r}", source=str(path))
        if isinstance(item, dict) and "rrf" in item:
            members = tuple(member(m) for m in item["rrf"] or [])
            if len(members) < 2:
                raise InputError("rrf needs at least 2 members", source=str(path))
            stages.append(StagePlan(members, top_k, {k: v for k, v in item.items() if k not in ("rrf", "top_k")}))
        else:
            stages.append(StagePlan((member(item),), top_k))
    return stages

"""Method options declared once, as a dataclass per method, and checked at load.

`validate_options` turns the keyword options a user gave (Python, `-O key=value` on the CLI, the server's
flags) into that dataclass, refusing unknown names and wrong types before any model work starts. Field
metadata may carry `choices` (allowed values for a str) or `named` (a table that maps a name to an object,
e.g. a prompt), so `prompt="rank_gpt"` and a prompt object are both accepted and `prompt="x"` is not."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

from rankwise.errors import OptionError


@dataclasses.dataclass(frozen=True)
class NoOptions:
    """For methods without options of their own."""


def option(
    default: Any,
    *,
    choices: tuple[str, ...] = (),
    named: Mapping[str, Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    help: str = "",
) -> Any:
    """A dataclass field with what `validate_options` checks besides the type."""
    return dataclasses.field(
        default=default,
        metadata={"choices": choices, "named": named, "minimum": minimum, "maximum": maximum, "help": help},
    )


def parse_options(pairs: Iterable[str], flag: str = "-O", strip: bool = False) -> dict[str, Any]:
    """KEY=VALUE pairs, as the CLI's -O and a spec's {key=value,...} give them: the one parser of option text.
    Values that read as JSON (numbers, true/false, null, "quoted text") are converted, others stay text, kept
    as given (an answer token may start with a space) unless `strip` (a spec written inline). A key given
    twice is refused: which of the two was meant cannot be guessed."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OptionError(f"option {pair.strip()!r} is not KEY=VALUE")
        if key in options:
            raise OptionError(f"option {key} given twice ({flag} {key}={options[key]!r} and {flag} {pair.strip()})")
        options[key] = parse_value(value.strip() if strip else value)
    return options


def parse_value(text: str) -> Any:
    """An option value from text: JSON where it reads as JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def validate_options(options_class: type, owner: str, given: dict[str, Any]) -> Any:
    """An `options_class` instance from `given`; any unknown name or badly typed value is an OptionError
    whose message starts with `owner` (e.g. "method 'first'")."""
    fields = {f.name: f for f in dataclasses.fields(options_class)}
    unknown = sorted(set(given) - set(fields))
    if unknown:
        known = ", ".join(fields) or "none"
        raise OptionError(f"{owner} got unknown option(s): {', '.join(unknown)} (known: {known})")
    hints = typing.get_type_hints(options_class)
    values = {}
    for name, value in given.items():
        values[name] = _checked(owner, name, value, hints[name], fields[name].metadata)
    return options_class(**values)


def check_declared(instance: Any, owner: str) -> None:
    """Check a declared dataclass built directly (a training config made in Python rather than from
    options): each field's value against its declaration, a named value replaced by its object."""
    hints = typing.get_type_hints(type(instance))
    for field in dataclasses.fields(instance):
        value = _checked(owner, field.name, getattr(instance, field.name), hints[field.name], field.metadata)
        object.__setattr__(instance, field.name, value)


def _checked(owner: str, name: str, value: Any, hint: Any, metadata: Mapping[str, Any]) -> Any:
    named = metadata.get("named")
    if named is not None and isinstance(value, str):
        if value not in named:
            raise OptionError(f"{owner}: option {name}={value!r} is not one of {', '.join(named)}")
        return named[value]
    choices = metadata.get("choices") or ()
    if choices and value not in choices:
        raise OptionError(f"{owner}: option {name}={value!r} must be one of {', '.join(choices)}")
    if not _matches(value, hint):
        raise OptionError(f"{owner}: option {name} must be {_describe(hint)}, got {type(value).__name__} {value!r}")
    minimum = metadata.get("minimum")
    if minimum is not None and value is not None and value < minimum:
        raise OptionError(f"{owner}: option {name}={value!r} must be >= {minimum}")
    maximum = metadata.get("maximum")
    if maximum is not None and value is not None and value > maximum:
        raise OptionError(f"{owner}: option {name}={value!r} must be <= {maximum}")
    return float(value) if hint is float else value


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_matches(value, arm) for arm in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is not None:
        return isinstance(value, origin)
    if hint is float:  # an int is a fine float; a bool is not a number here
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


@dataclasses.dataclass(frozen=True)
class OptionDoc:
    """One declared option as help and documentation show it."""

    name: str
    type: str
    default: str
    help: str


def option_docs(options_class: type) -> list[OptionDoc]:
    """Each option of a declaration with its type, default and help, read from the declaration itself (so
    that the CLI's help and the reference pages cannot drift from what `validate_options` checks)."""
    hints = typing.get_type_hints(options_class)
    docs = []
    for field in dataclasses.fields(options_class):
        metadata = field.metadata
        named = metadata.get("named")
        kind = f"one of {', '.join(named)}, or an object" if named else _describe(hints[field.name])
        if metadata.get("choices"):
            kind = "one of " + ", ".join(metadata["choices"])
        bounds = [f">= {metadata['minimum']}"] if metadata.get("minimum") is not None else []
        bounds += [f"<= {metadata['maximum']}"] if metadata.get("maximum") is not None else []
        if bounds:
            kind += f" ({', '.join(bounds)})"
        docs.append(OptionDoc(field.name, kind, _default_text(field.default, named), metadata.get("help", "")))
    return docs


def _default_text(default: Any, named: Mapping[str, Any] | None) -> str:
    for name, value in (named or {}).items():
        if value is default:
            return name
    return json.dumps(default) if isinstance(default, (str, int, float, bool, type(None))) else repr(default)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arm) for arm in typing.get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(hint)))
    if hint is type(None):
        return "null"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))

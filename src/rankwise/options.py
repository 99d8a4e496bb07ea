"""Method options declared once, as a dataclass per method, and checked at load.

`validate_options` turns the keyword options a user gave (Python, `-O key=value` on the CLI, the server's
flags) into that dataclass, refusing unknown names and wrong types before any model work starts. Field
metadata may carry `choices` (allowed values for a str) or `named` (a table that maps a name to an object,
e.g. a prompt), so `prompt="rank_gpt"` and a prompt object are both accepted and `prompt="x"` is not."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
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
    help: str = "",
) -> Any:
    """A dataclass field with what `validate_options` checks besides the type."""
    return dataclasses.field(
        default=default, metadata={"choices": choices, "named": named, "minimum": minimum, "help": help}
    )


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

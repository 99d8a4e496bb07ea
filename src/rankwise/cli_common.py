"""What every rankwise command shares: the consoles, one-line error reporting, KEY=VALUE options and
progress bars."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from rankwise.errors import OptionError, RankwiseError

console = Console()
errors = Console(stderr=True)
# Piped output (logs, files, CI) is not limited to 80 columns, so wide tables stay whole.
if not console.is_terminal:
    console = Console(width=200)
if not errors.is_terminal:
    errors = Console(stderr=True, width=200)


def reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Show rankwise's own errors (bad input, options, missing models) as one readable line and exit 2.
    Anything else is a bug and keeps its traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RankwiseError as e:
            # escape: messages hold brackets ("pip install 'rankwise[serve]'") that Rich would eat as markup
            errors.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; values that read as JSON (numbers, true/false, null) are converted."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"option {pair!r} is not KEY=VALUE")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


@contextmanager
def progress_bar(description: str) -> Iterator[tuple[Progress, TaskID]]:
    """A progress bar with count and ETA on stderr; the caller sets the total when it knows it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=errors) as progress:
        yield progress, progress.add_task(description, total=None)

"""What every rankwise command shares: the consoles, one-line error reporting, KEY=VALUE options and
progress bars."""

from __future__ import annotations

import functools
import json
import time
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


class LoggedProgress:
    """Progress for a log file: Rich draws a live bar only on a terminal, and a background job's log would
    show nothing until the end. This prints a plain line (count, elapsed, ETA) at most every `every`
    seconds and when the work completes. It takes the calls the commands make on a Rich `Progress`."""

    def __init__(self, description: str, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.description, self.every, self.clock = description, every, clock
        self.reset(TaskID(0))

    def update(self, task: TaskID, total: float | None = None, completed: float | None = None,
               advance: float | None = None, description: str | None = None) -> None:
        if total is not None:
            self.total = total
        if completed is not None:
            self.completed = completed
        if advance is not None:
            self.completed += advance
        if description is not None:
            self.description = description
        now = self.clock()
        finished = self.total is not None and self.completed >= self.total
        if (completed is not None or advance is not None) and (finished or now - self.last_line >= self.every):
            self.last_line = now
            errors.print(self.line(now), highlight=False)

    def advance(self, task: TaskID, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def reset(self, task: TaskID, total: float | None = None, description: str | None = None) -> None:
        """Start the count and the clock again, for the next piece of work (the next reranker of a bench)."""
        self.total: float | None = total
        self.completed = 0.0
        self.started = self.last_line = self.clock()
        if description is not None:
            self.description = description

    def line(self, now: float) -> str:
        elapsed = now - self.started
        done = f"{self.completed:g}" + (f"/{self.total:g}" if self.total is not None else "")
        text = f"{self.description}: {done}, {_clock_text(elapsed)} elapsed"
        if self.total is not None and 0 < self.completed < self.total:
            text += f", about {_clock_text(elapsed / self.completed * (self.total - self.completed))} left"
        return text


def _clock_text(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


@contextmanager
def progress_bar(description: str) -> Iterator[tuple[Progress | LoggedProgress, TaskID]]:
    """A progress bar with count and ETA on stderr (plain lines when stderr is not a terminal); the caller
    sets the total when it knows it."""
    if not errors.is_terminal:
        yield LoggedProgress(description), TaskID(0)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=errors) as progress:
        yield progress, progress.add_task(description, total=None)

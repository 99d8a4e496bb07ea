"""What every rankwise command shares: the consoles, one-line error reporting, KEY=VALUE options and
progress bars."""

from __future__ import annotations

import functools
import inspect
import json
import time
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

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


def parse_options(pairs: list[str], flag: str = "-O") -> dict[str, Any]:
    """KEY=VALUE pairs; values that read as JSON (numbers, true/false, null) are converted. A key given twice
    is refused: which of the two was meant cannot be guessed."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OptionError(f"option {pair!r} is not KEY=VALUE")
        if key in options:
            raise OptionError(f"option {key} given twice ({flag} {key}={options[key]!r} and {flag} {pair})")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


# The flags of every command that loads a reranker (rerank, bench, serve, label), declared once so that
# each command takes the same ones; `reranker_options` merges them with -O KEY=VALUE.
MODEL_FLAG = typer.Option(
    ...,
    "--model",
    "-m",
    help="Registered name, local path, Hugging Face id, or a spec such as 'maxsim:minilm-embed@100 >> first:MODEL@20'.",
)
METHOD_FLAG = typer.Option(None, help="Reranking method (default: the model's).")
BATCH_SIZE_FLAG = typer.Option(None, "--batch-size", help="Inputs per forward pass (default 32).")
DEVICE_FLAG = typer.Option(None, help="cpu, cuda, mps (default: the best available).")
DTYPE_FLAG = typer.Option(None, help="float32, bfloat16, float16 (transformers; default float32 on CPU).")
THREADS_FLAG = typer.Option(None, help="CPU threads.")
BACKEND_FLAG = typer.Option(None, help="Backend (see `rankwise backends`; default: transformers).")
OPTION_FLAG = typer.Option(
    [],
    "--option",
    "-O",
    help="Method or runtime option KEY=VALUE, repeatable (e.g. -O window=20 -O stride=10, -O base_url=...).",
)


RERANKER_FLAGS: dict[str, tuple[Any, Any]] = {
    "batch_size": (Optional[int], BATCH_SIZE_FLAG),
    "device": (Optional[str], DEVICE_FLAG),
    "dtype": (Optional[str], DTYPE_FLAG),
    "threads": (Optional[int], THREADS_FLAG),
    "backend": (Optional[str], BACKEND_FLAG),
    "option": (list[str], OPTION_FLAG),
}


def takes_reranker_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the runtime flags and -O of every command that loads a reranker; it receives them
    merged and checked (`reranker_options`) as its `options` keyword."""
    signature = inspect.signature(command)
    kept = [p for p in signature.parameters.values() if p.name != "options"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=flag, annotation=hint)
        for name, (hint, flag) in RERANKER_FLAGS.items()
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = {name: kwargs.pop(name) for name in RERANKER_FLAGS}
        return command(*args, options=reranker_options(flags.pop("option"), **flags), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
    hints = typing.get_type_hints(command)
    hints.pop("options", None)
    wrapper.__annotations__ = {**hints, **{name: hint for name, (hint, _) in RERANKER_FLAGS.items()}}
    return wrapper


def reranker_options(option: list[str], **flags: Any) -> dict[str, Any]:
    """The options a command passes to `Reranker.load`: its -O pairs plus the runtime flags that were given
    (`batch_size=...` for --batch-size); an option given both ways is refused with both spellings."""
    options = parse_options(option)
    for name, value in flags.items():
        if value is None:
            continue
        if name in options:
            raise OptionError(
                f"option {name} given twice (--{name.replace('_', '-')} {value} and "
                f"-O {name}={options[name]!r}); give it once"
            )
        options[name] = value
    return options


class LoggedProgress:
    """Progress for a log file: Rich draws a live bar only on a terminal, and a background job's log would
    show nothing until the end. This prints a plain line (count, elapsed, ETA) at most every `every`
    seconds and when the work completes. It takes the calls the commands make on a Rich `Progress`."""

    def __init__(self, description: str, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.description, self.every, self.clock = description, every, clock
        self.reset(TaskID(0))

    def update(
        self,
        task: TaskID,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
    ) -> None:
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
    minutes, seconds = divmod(round(seconds), 60)
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

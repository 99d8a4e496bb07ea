"""What every rankwise command shares: the consoles, one-line error reporting, KEY=VALUE options and
progress bars."""

from __future__ import annotations

import functools
import inspect
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
from rankwise.options import parse_options

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


def _option_help() -> str:
    """-O's help, from the option declarations: every runtime option some backend takes, the wrapper
    keywords, and where each method's own options are listed."""
    from rankwise.backends.registry import runtime_option_names
    from rankwise.rerankers.wrappers.keywords import PRESET_KEYWORD, WRAPPER_KEYWORDS

    return (
        "Option KEY=VALUE, repeatable (values read as JSON where they can: -O window=20 -O truncate=false). "
        f"Runtime: {', '.join(sorted(runtime_option_names()))}. "
        f"Wrappers: {', '.join(sorted(WRAPPER_KEYWORDS | {PRESET_KEYWORD}))}. "
        "Each method's own: `rankwise methods METHOD`."
    )


OPTION_FLAG = typer.Option([], "--option", "-O", help=_option_help())


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


class BarProgress:
    """A pipeline's `OnProgress` shown as a bar: a total starts a new count (with the note as its label),
    a note alone relabels it, an advance moves it."""

    def __init__(self, progress: Progress | LoggedProgress, task: TaskID):
        self.progress, self.task = progress, task

    def __call__(self, advance: int, *, total: int | None = None, note: str = "") -> None:
        if total is not None:
            self.progress.reset(self.task, total=total, description=note or None)
        elif note:
            self.progress.update(self.task, description=note)
        if advance:
            self.progress.advance(self.task, advance)


@contextmanager
def progress_bar(description: str) -> Iterator[BarProgress]:
    """A progress bar with count and ETA on stderr (plain lines when stderr is not a terminal), driven as an
    `OnProgress`: the pipeline (or the command, when it knows first) gives the total."""
    if not errors.is_terminal:
        yield BarProgress(LoggedProgress(description), TaskID(0))
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=errors) as progress:
        yield BarProgress(progress, progress.add_task(description, total=None))

"""What every `trmsolve` command shares: the app, exit codes, one-line errors, JSON Lines, common options.

Data goes to stdout (grids, or JSON Lines with --json), progress and messages to stderr. Nothing here
imports torch or the heavier modules at start-up, so `trmsolve --help` and argument errors answer at once.
Exit codes: 0 all answers valid (and right, where the answer is known), 1 some answer invalid or wrong,
2 bad input or usage (also when a batch went on past a bad file), 130 interrupted, 141 stdout closed by its
reader (`| head`).
"""

from __future__ import annotations

import errno
import json
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from trmsolve import __version__
from trmsolve.errors import TrmsolveError
from trmsolve.kinds import KINDS

if TYPE_CHECKING:
    from rich.progress import Progress


EXIT_INVALID = 1  # some answer is invalid or differs from the known answer
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader of stdout closed it (`| head`), as `yes | head` exits


def error(message: str) -> None:
    """One line on stderr; never markup-interpreted or wrapped, so it survives any terminal or log."""
    print(f"error: {message}", file=sys.stderr, flush=True)


HELP_ORDER = ("sudoku", "maze", "arc", "models", "fetch", "convert", "generate", "train", "eval", "build-arc")


SUMMARIES = {  # what `trmsolve --help` lists: whole phrases (click would cut the help at its first period)
    "sudoku": "Solve Sudoku puzzles: files, folders, stdin, or the 81 cells.",
    "maze": "Solve mazes drawn as text grids, or Maze-Hard CSV rows.",
    "arc": "Solve ARC-AGI tasks: task JSON or the Kaggle files.",
    "models": "List the bundled, cached and known public models.",
    "fetch": "Download a model from the Hugging Face Hub.",
    "convert": "Convert a published TRM/HRM checkpoint to our format.",
    "generate": "Generate Sudoku or maze puzzles with their answers.",
    "train": "Train a model with the published recipe.",
    "eval": "Score a model on a held-out set, as published and verified.",
    "build-arc": "Build the published ARC training data set.",
    "version": "Print the version, the device and its number formats.",
}


class PlainArgument(TyperArgument):
    """An argument as git and gh show it: `INPUT...` in the usage line and in the list, no type."""

    def _usage_display_name(self) -> str:
        name = (self.metavar or self.name or "").upper() + ("..." if self.nargs != 1 else "")
        return name if self.required else f"[{name}]"

    def _rich_display_name(self) -> str:
        return self._usage_display_name()

    def display_type(self, ctx: Any) -> str:
        return super().display_type(ctx) if self.type_descriptor.is_choice else ""


class PlainOption(TyperOption):
    """An option whose type reads as a word (`<int>`, not `<int range>`): its range is said in brackets after."""

    def display_type(self, ctx: Any) -> str:
        return super().display_type(ctx).replace(" range>", ">")


def plain_help(command: Any, top: bool = True) -> Any:
    """Give a command (and its subcommands) plain parameter help, and a top-level command its summary (`eval
    sudoku` keeps its own: SUMMARIES are the top level's)."""
    if command is None:
        return command
    if top and not command.short_help and command.name in SUMMARIES:
        command.short_help = SUMMARIES[command.name]
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = PlainArgument
        elif type(param) is TyperOption:
            param.__class__ = PlainOption
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub, top=False)
    return command


class CommandGroup(TyperGroup):
    """Turns a user's mistake (TrmsolveError, or an OSError on a file) into one `error:` line and exit 2,
    for every command, including ones added later."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return plain_help(super().get_command(ctx, cmd_name), top=ctx.parent is None)

    def list_commands(self, ctx: Any) -> list[str]:
        """Solving first, then models, then data and training: the order a new user needs them."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: HELP_ORDER.index(name) if name in HELP_ORDER else len(HELP_ORDER))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TrmsolveError as exc:
            error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise typer.Exit(EXIT_CLOSED_PIPE) from None  # the reader went away (`| head`): quietly
            error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None


app = typer.Typer(
    cls=CommandGroup,
    help="Solve Sudoku, mazes and ARC-AGI tasks with tiny recursive reasoning models (TRM, HRM).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help and one-line usage errors, as git, gh and hf print them
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"trmsolve {__version__}")
        raise typer.Exit()


@app.callback()
def _main_options(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    """Solve Sudoku, mazes and ARC-AGI tasks with tiny recursive reasoning models (TRM, HRM)."""


JsonOption = Annotated[bool, typer.Option("--json", help="JSON Lines on stdout, one object per line.")]


def emit_json(line: str) -> None:
    """Write one JSON line and flush it, holding Ctrl-C until it is out: an interrupt never leaves half a line."""
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def finish(json_output: bool, report: dict[str, Any], note: str) -> None:
    """The end of a command that writes a file or folder: its report as one JSON line with --json; else the
    written path on stdout, for scripts, and a note for people on stderr."""
    if json_output:
        emit_json(json.dumps(report))
    else:
        print(report["output"])
        print(note, file=sys.stderr)


# ----------------------------------------------------------------------------------------------- solving


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
    mps = "mps"


class Dtype(str, Enum):
    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"


class AdaptStart(str, Enum):
    nearest = "nearest"
    zeros = "zeros"


AdaptStepsOption = Annotated[int, typer.Option(min=1, help="Optimiser steps per adapted task.")]
AdaptStartOption = Annotated[
    AdaptStart,
    typer.Option(
        help="Where each adapted embedding starts: the known embedding that best predicts the demonstrations "
        "(nearest), or zeros."
    ),
]
IdentifiersOption = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="The identifiers.json of the data set a published ARC checkpoint was trained on (`build-arc` writes "
        "it): which task each row of its puzzle embedding is. Needed when the published builder settings do not "
        "give as many identifiers as the checkpoint has.",
    ),
]

ThreadsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        metavar="N",
        envvar="TRMSOLVE_THREADS",
        help="CPU threads for the model (default: torch's, one per core; env TRMSOLVE_THREADS). Next to other "
        "busy work, fewer threads than cores run faster.",
        show_default=False,
    ),
]

CompileOption = Annotated[
    bool,
    typer.Option(
        "--compile/--no-compile",
        help="Run the model's steps through torch.compile (needs a C++ compiler): for long maze jobs (a step 1.5x "
        "faster, 1.1-1.2x end to end), after seconds (cached) to minutes (the first time) of compiling; slower for "
        "the bundled Sudoku and ARC models in batches.",
    ),
]

DtypeOption = Annotated[
    Dtype,
    typer.Option(help="Number format the model runs in; auto = bfloat16 only where the device multiplies it natively."),
]


def note(message: str) -> None:
    """A line for people on stderr that is not an error (the run goes on). On a terminal it wraps at spaces, as
    Rich's output does, rather than where the terminal cuts it (inside a word)."""
    text = f"note: {message}"
    if sys.stderr.isatty():
        width = shutil.get_terminal_size().columns
        text = "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))
    print(text, file=sys.stderr, flush=True)


def bar_updater(bar: Progress | None, description: str) -> Callable[..., None] | None:
    """A `progress(done, total, ...)` callback moving a new line of `bar` (None when there is no bar)."""
    if bar is None:
        return None
    line = bar.add_task(description, total=None)
    return lambda done, total, *_: bar.update(line, completed=done, total=total)


eval_app = typer.Typer(help="Score a model on a benchmark as the published evaluators do.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


Task = Enum("Task", {name: name for name in KINDS}, type=str)  # a puzzle kind on the command line

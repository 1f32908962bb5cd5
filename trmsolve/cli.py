"""The `trmsolve` command: a thin layer over `trmsolve.solver`, `trmsolve.checkpoint` and `trmsolve.data`.

Data goes to stdout (grids, or JSON Lines with --json), progress and messages to stderr. Nothing here
imports torch or the heavier modules at start-up, so `trmsolve --help` and argument errors answer at once.
Exit codes: 0 all answers valid (and right, where the answer is known), 1 some answer invalid or wrong,
2 bad input or usage (also when a batch went on past a bad file), 130 interrupted, 141 stdout closed by its
reader (`| head`).
"""

from __future__ import annotations

import errno
import importlib
import json
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from trmsolve import __version__
from trmsolve.errors import PuzzleParseError, TrmsolveError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from trmsolve.kinds import Puzzle
    from trmsolve.model import RecursiveReasoningModel
    from trmsolve.render import Tracer

EXIT_INVALID = 1  # some answer is invalid or differs from the known answer
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: the reader of stdout closed it (`| head`), as `yes | head` exits


def error(message: str) -> None:
    """One line on stderr; never markup-interpreted or wrapped, so it survives any terminal or log."""
    print(f"error: {message}", file=sys.stderr, flush=True)


class CommandGroup(TyperGroup):
    """Turns a user's mistake (TrmsolveError, or an OSError on a file) into one `error:` line and exit 2,
    for every command, including ones added later."""

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

DtypeOption = Annotated[
    Dtype,
    typer.Option(help="Number format the model runs in; auto = bfloat16 only where the device multiplies it natively."),
]


KIND_HELP = {
    "sudoku": "Solve Sudoku: one puzzle per line (81 cells, 0 or . for blanks, comments allowed), 9-line grids "
    "with or without separators, or the Sudoku-Extreme CSV (source,question,answer,rating).",
    "maze": "Solve mazes: text grids of # walls, open cells (space or .), one S and one G, up to 30x30; "
    "or the Maze-Hard CSV.",
    "arc": "Solve ARC-AGI tasks: a task JSON, or a Kaggle *_challenges.json (scored against the "
    "*_solutions.json beside it).",
}


def solve_puzzles(
    ctx: typer.Context,
    inputs: Annotated[
        list[str],
        typer.Argument(help="Puzzle files, directories (searched recursively) or - for stdin.", show_default=False),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Bundled model name, model directory, published checkpoint, or hf:OWNER/REPO\\[/PATH]\\[@REVISION].",
            show_default="the bundled model for the kind",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="The run's all_config.yaml, for a published checkpoint without one beside it."),
    ] = None,
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    dtype: DtypeOption = Dtype.auto,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Puzzles run together.")] = 64,
    max_steps: Annotated[
        int | None,
        typer.Option(min=1, help="Most refinement steps per puzzle.", show_default="the checkpoint's (16 published)"),
    ] = None,
    halt: Annotated[
        bool,
        typer.Option(help="Stop each puzzle when the model's Q head says so; --no-halt runs every step."),
    ] = True,
    halt_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Halt when the halting probability exceeds this.",
            show_default="the trained rule (probability > 0.5)",
        ),
    ] = None,
    trace: Annotated[
        bool,
        typer.Option("--trace", help="Show every refinement step: answer, changed cells, confidence, halting."),
    ] = False,
    json_output: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary, not each puzzle.")] = False,
    attempts: Annotated[int, typer.Option(min=1, help="Voted answers kept per test input (pass@K, K = this).")] = 2,
    submission: Annotated[
        Path | None, typer.Option(help="Write the ARC Prize submission.json (task -> attempts per test input) here.")
    ] = None,
    views: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most augmented versions of a task run and voted (fewer: faster, weaker vote).",
            show_default="every one the model knows",
        ),
    ] = None,
    arc_data: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the Kaggle-layout ARC task files a published checkpoint was trained on: rebuilds "
            "its identifier map with the published builder settings (once; cached)."
        ),
    ] = None,
    adapt: Annotated[
        bool,
        typer.Option(
            "--adapt", help="Learn puzzle embeddings for tasks the model never saw from their demonstrations first."
        ),
    ] = False,
    adapt_steps: AdaptStepsOption = 100,
    adapt_start: AdaptStartOption = AdaptStart.nearest,
) -> None:
    """Read, solve, show. Bad entries are reported as they are read and skipped; the kind is the command's name."""
    from rich.console import Console

    from trmsolve.kinds import get_kind
    from trmsolve.render import Tracer, progress_bar, result_view, summary_table, verdict_line
    from trmsolve.solver import DEFAULT_MODELS, Summary, default_model, read_inputs, solve

    kind_name = str(ctx.info_name)  # registered once per kind, below
    kind = get_kind(kind_name)
    bad_input = False

    def puzzles() -> Iterator[Puzzle]:
        nonlocal bad_input
        for item in read_inputs(inputs, kind):
            if isinstance(item, PuzzleParseError):
                bad_input = True
                error(str(item))
            else:
                yield item

    stream = puzzles()
    first = next(stream, None)  # read before loading the model, so bad input fails fast
    if first is None:
        raise TrmsolveError(f"no {kind_name} puzzles to solve in {', '.join(inputs)}")

    from trmsolve.models import load_model

    model_name = model or DEFAULT_MODELS[kind_name]
    source = model or default_model(kind_name)
    network = load_model(source, device=device.value, dtype=dtype.value, config=config, task=kind_name)

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    shown = err if json_output else out  # where trace frames and the summary go: never into JSON Lines
    tracer = Tracer(kind, shown) if trace else None
    show_progress = err.is_terminal and not trace and (json_output or quiet or not out.is_terminal)
    if kind_name == "arc":  # every augmented version of every task runs before the vote: no streaming
        all_ok = solve_arc(
            [first, *stream],
            network,
            model_name=model_name,
            out=out,
            err=err,
            tracer=tracer,
            json_output=json_output,
            quiet=quiet,
            show_progress=show_progress,
            max_steps=max_steps,
            halt=halt,
            halt_threshold=halt_threshold,
            batch_size=batch_size,
            attempts=attempts,
            submission=submission,
            views=views,
            arc_data=arc_data,
            adapt={"steps": adapt_steps, "start": adapt_start.value} if adapt else None,
        )
        raise typer.Exit(EXIT_BAD_INPUT if bad_input else 0 if all_ok else EXIT_INVALID)
    summary = Summary()
    results = solve(
        chain([first], stream),
        network,
        kind=kind,
        max_steps=max_steps,
        halt=halt,
        halt_threshold=halt_threshold,
        batch_size=1 if trace else batch_size,  # one puzzle at a time, or frames would interleave
        on_step=tracer,
        model_name=model_name,
    )
    with progress_bar(err) if show_progress else nullcontext() as progress:
        task = progress.add_task("solving", total=None, valid=0, rate=0.0) if progress else None
        try:
            for result in results:
                summary.add(result)
                if json_output:
                    emit_json(result.to_json())
                elif trace:
                    out.print(verdict_line(result), "")
                elif not quiet:
                    out.print(result_view(kind, result))
                if progress is not None:
                    rate = summary.puzzles_per_second
                    progress.update(task, completed=summary.puzzles, valid=summary.valid, rate=rate)
        finally:
            if tracer is not None:
                tracer.close()
    if summary.puzzles > 1 or quiet:
        shown.print(summary_table(summary))
    if bad_input:
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(EXIT_INVALID if summary.failed else 0)


ARC_OPTIONS = ("attempts", "submission", "views", "arc_data", "adapt", "adapt_steps", "adapt_start")


class KindCommand(TyperCommand):
    """A solving command: one function serves every kind, and only `arc` has the ARC options."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        return params if self.name == "arc" else [p for p in params if p.name not in ARC_OPTIONS]


for _kind, _help in KIND_HELP.items():
    app.command(_kind, help=_help, cls=KindCommand)(solve_puzzles)


# -------------------------------------------------------------------------------------------------- ARC


def note(message: str) -> None:
    """A line for people on stderr that is not an error (the run goes on)."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def bar_updater(bar: Progress | None, description: str) -> Callable[..., None] | None:
    """A `progress(done, total, ...)` callback moving a new line of `bar` (None when there is no bar)."""
    if bar is None:
        return None
    line = bar.add_task(description, total=None)
    return lambda done, total, *_: bar.update(line, completed=done, total=total)


def prepare_arc_model(
    network: RecursiveReasoningModel,
    puzzles: list[Puzzle],
    *,
    arc_data: Path | None,
    adapt: dict[str, Any] | None,
    err: Console,
    show_progress: bool,
) -> None:
    """Give the model its identifier map (rebuilt from --arc-data for a published checkpoint) and, with
    --adapt (`adapt`: keyword arguments of `arc_solve.adapt`), embeddings for the tasks it never saw; say
    what was done and what could not be."""
    from trmsolve.arc_builder import parse_identifier
    from trmsolve.arc_solve import adapt as adapt_task
    from trmsolve.arc_solve import attach_identifier_map, task_views
    from trmsolve.render import count_bar

    if network.config.puzzle_emb_ndim <= 0:
        if arc_data is not None or adapt is not None:
            note("this model has no puzzle embeddings: --arc-data and --adapt do not apply")
        return
    if network.identifiers is None and arc_data is not None:
        settings = attach_identifier_map(network, arc_data)
        note(f"identifier map rebuilt with the published {settings.name} builder settings over {arc_data} (cached)")
    elif arc_data is not None:
        note("the model carries its own identifier map; --arc-data is not needed")
    elif network.identifiers is None and network.config.puzzle_emb_ndim > 0:
        note("this checkpoint carries no identifier map: pass --arc-data DIR (the task files it was trained on)")
    known = task_views(network.identifiers)
    unknown = list(dict.fromkeys(str(p.meta["task_id"]) for p in puzzles if str(p.meta["task_id"]) not in known))
    if unknown and adapt is None:
        listed = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        note(
            f"{len(unknown)} task(s) the model never saw ({listed}): they run with the blank identifier, i.e. "
            "guess; --adapt learns embeddings for them first"
        )
        return
    pairs = {str(p.meta["task_id"]): p.meta["train"] for p in puzzles}
    for task in unknown:
        with count_bar(err) if show_progress else nullcontext() as bar:
            line = bar.add_task(f"adapting {task}", total=adapt["steps"]) if bar is not None else None

            def progress(done: int, total: int, loss: float, task: str = task, line: Any = line) -> None:
                what = f"adapting {task}: " + (f"loss {loss:.3f}" if done else "choosing start embeddings")
                if bar is not None:
                    bar.update(line, completed=done, total=total, description=what)

            result = adapt_task(network, task, pairs[task], progress=progress, **adapt)
        started = ", ".join(dict.fromkeys(parse_identifier(name).task for name in result.started_from))
        note(
            f"adapted {task}: {result.views} views, {result.steps} steps in {result.seconds:.1f} s "
            f"(started from {started}; final loss {result.loss:.3f}; demonstrations exact {result.demo_exact:.0%})"
        )


def solve_arc(
    puzzles: list[Puzzle],
    network: RecursiveReasoningModel,
    *,
    model_name: str,
    out: Console,
    err: Console,
    tracer: Tracer | None,
    json_output: bool,
    quiet: bool,
    show_progress: bool,
    max_steps: int | None,
    halt: bool,
    halt_threshold: float | None,
    batch_size: int,
    attempts: int,
    submission: Path | None,
    views: int | None,
    arc_data: Path | None,
    adapt: dict[str, Any] | None,
) -> bool:
    """`trmsolve arc`: vote over the augmented versions of each test input; show the attempts and pass@K.
    True when every first attempt is a grid and no known answer is missed by all attempts."""
    from trmsolve.arc_builder import grid_problem
    from trmsolve.arc_solve import predict, score, write_submission
    from trmsolve.kinds import get_kind
    from trmsolve.render import arc_answer_view, arc_score_table, count_bar
    from trmsolve.solver import solve

    kind = get_kind("arc")
    prepare_arc_model(network, puzzles, arc_data=arc_data, adapt=adapt, err=err, show_progress=show_progress)
    run = {"max_steps": max_steps, "halt": halt, "halt_threshold": halt_threshold}
    if tracer is not None:  # the plain version of each test input, step by step (not part of the vote)
        try:
            for puzzle in puzzles:
                for _ in solve([puzzle], network, kind=kind, batch_size=1, on_step=tracer, **run):
                    pass
        finally:
            tracer.close()
    with count_bar(err) if show_progress else nullcontext() as bar:
        progress = bar_updater(bar, "running augmented versions")
        answers = predict(network, puzzles, max_views=views, batch_size=batch_size, progress=progress, **run)
    shown = err if json_output else out
    for answer in answers:
        if json_output:
            emit_json(json.dumps(answer.to_dict(attempts, model_name)))
        elif not quiet:
            out.print(arc_answer_view(kind, answer, attempts))
    scores = score(answers, sorted({1, attempts}))
    if scores.tasks:
        shown.print(arc_score_table(scores, per_task=not quiet))
    unchecked = sum(a.puzzle.answer is None for a in answers)
    if unchecked:
        checked = len(answers) - unchecked
        shown.print(
            f"{checked} test input{'s' * (checked != 1)} checked against a known output; {unchecked} unchecked "
            "(no known output: ? marks an answer nothing could check)",
            soft_wrap=True,
        )
    if submission is not None:
        write_submission(submission, answers, attempts)
        note(f"wrote {submission} ({len(answers)} test inputs, {attempts} attempts each)")
    return all(grid_problem(a.candidates[0].grid) is None and a.passes(attempts) is not False for a in answers)


@app.command("build-arc", context_settings={"allow_extra_args": True})
def build_arc(
    ctx: typer.Context,
    input_file_prefix: Annotated[
        str, typer.Option(help="Task files are <prefix>_<subset>_challenges.json (+ _solutions.json beside them).")
    ],
    output_dir: Annotated[Path, typer.Option(help="Where train/, test/, identifiers.json and test_puzzles.json go.")],
    subsets: Annotated[
        list[str],
        typer.Option(help="Subsets in order, as published (`--subsets training evaluation concept`) or repeated."),
    ],
    test_set_name: Annotated[str, typer.Option(help="Subset whose tasks' test examples make the test split.")],
    test_set_name2: Annotated[str, typer.Option(help="A second such subset.")] = "evaluation2",
    seed: Annotated[int, typer.Option(help="Seed of the legacy NumPy random stream.")] = 42,
    num_aug: Annotated[int, typer.Option(min=0, help="Augmented versions per task.")] = 1000,
    puzzle_identifiers_start: Annotated[int, typer.Option(min=1, help="First identifier number.")] = 1,
    tasks: Annotated[
        Path | None,
        typer.Option(help="Ours, not published: keep only the task ids listed in this file (one per line)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Build the published ARC training data set (byte for byte what the published builder writes)."""
    from trmsolve.arc_builder import build_arc_dataset
    from trmsolve.arc_solve import read_task_list

    wanted = read_task_list(tasks) if tasks is not None else None
    try:
        report = build_arc_dataset(
            input_file_prefix,
            output_dir,
            [*subsets, *ctx.args],  # the published `--subsets a b c`: click leaves b and c as extra arguments
            test_set_name,
            test_set_name2=test_set_name2,
            seed=seed,
            num_aug=num_aug,
            puzzle_identifiers_start=puzzle_identifiers_start,
            tasks=set(wanted) if wanted is not None else None,
        )
    except ValueError as exc:
        raise TrmsolveError(str(exc)) from None
    sizes = {
        split: json.loads((output_dir / split / "dataset.json").read_text())
        for split in ("train", "test")
        if (output_dir / split / "dataset.json").is_file()
    }
    result = {
        "output": str(output_dir),
        "tasks": report.num_tasks,
        "identifiers": report.num_identifiers,
        **{f"{split}_puzzles": meta["total_puzzles"] for split, meta in sizes.items()},
        **{
            f"{split}_examples": round(meta["total_puzzles"] * meta["mean_puzzle_examples"])
            for split, meta in sizes.items()
        },
        "short_augmentations": report.short_augmentations,
    }
    counts = ", ".join(f"{split} {result[f'{split}_examples']} examples" for split in sizes)
    finish(json_output, result, f"{report.num_tasks} tasks, {report.num_identifiers} identifiers, {counts}")


eval_app = typer.Typer(help="Score a model on a benchmark as the published evaluators do.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("arc")
def eval_arc(
    data: Annotated[
        Path,
        typer.Option(help="A folder of Kaggle-layout ARC task files, or a build-arc output folder (its test split)."),
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model directory, published checkpoint, bundled name or hf:...")
    ],
    subset: Annotated[str, typer.Option(help="Which arc-agi_<subset>_challenges.json of a Kaggle folder.")] = (
        "evaluation"
    ),
    tasks: Annotated[Path | None, typer.Option(help="Only the task ids listed in this file.")] = None,
    views: Annotated[
        int | None,
        typer.Option(min=1, help="Most augmented versions per task.", show_default="every one the model knows"),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Runs batched together.")] = 64,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Refinement steps.")] = None,
    halt: Annotated[
        bool, typer.Option(help="Stop runs early when the Q head says so; the published evaluation does not.")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="all_config.yaml of a published checkpoint.")] = None,
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    dtype: DtypeOption = Dtype.auto,
    submission: Annotated[Path | None, typer.Option(help="Write the submission.json (2 attempts) here.")] = None,
    adapt: Annotated[
        bool, typer.Option("--adapt", help="First learn embeddings for the tasks the model never saw (ours).")
    ] = False,
    adapt_steps: AdaptStepsOption = 100,
    adapt_start: AdaptStartOption = AdaptStart.nearest,
    json_output: JsonOption = False,
) -> None:
    """pass@1, 2, 5, 10, 100, 1000 over a subset's tasks, computed as the published evaluator computes them."""
    from rich.console import Console

    from trmsolve.arc_solve import DATA_PREFIX, PASS_KS, predict, read_task_list, score, write_submission
    from trmsolve.models import load_model
    from trmsolve.render import arc_score_table, count_bar
    from trmsolve.solver import read_inputs

    built = data / "test_puzzles.json"
    source = built if built.is_file() else data / f"{DATA_PREFIX}_{subset}_challenges.json"
    wanted = set(read_task_list(tasks)) if tasks is not None else None
    puzzles = []
    for item in read_inputs([source], "arc"):
        if isinstance(item, PuzzleParseError):
            raise item
        if wanted is None or item.meta["task_id"] in wanted:
            puzzles.append(item)
    if not puzzles:
        raise TrmsolveError(f"{source}: no tasks to evaluate")
    network = load_model(model, device=device.value, dtype=dtype.value, config=config, task="arc")
    if network.identifiers is None and built.is_file():
        network.identifiers = json.loads((data / "identifiers.json").read_text())
        if len(network.identifiers) != network.config.num_puzzle_identifiers:
            raise TrmsolveError(
                f"{data / 'identifiers.json'}: {len(network.identifiers)} identifiers, the model has "
                f"{network.config.num_puzzle_identifiers}"
            )
    err = Console(stderr=True, soft_wrap=True)
    prepare_arc_model(
        network,
        puzzles,
        arc_data=data if network.identifiers is None else None,
        adapt={"steps": adapt_steps, "start": adapt_start.value} if adapt else None,
        err=err,
        show_progress=err.is_terminal,
    )
    with count_bar(err) if err.is_terminal else nullcontext() as bar:
        progress = bar_updater(bar, "running augmented versions")
        answers = predict(
            network, puzzles, max_views=views, max_steps=max_steps, halt=halt, batch_size=batch_size, progress=progress
        )
    result = score(answers, PASS_KS)
    if submission is not None:
        write_submission(submission, answers)
    if json_output:
        emit_json(json.dumps({"data": str(source), "model": model, **result.to_dict()}))
    else:
        Console(soft_wrap=True).print(arc_score_table(result, per_task=False))


def eval_command(kind: str) -> Callable[..., None]:
    """`eval sudoku|maze`: exact whole-answer accuracy on a held-out CSV, all steps and halting, by tier."""

    def command(
        data: Annotated[Path, typer.Option(help="Held-out CSV (source,question,answer,rating).")],
        model: Annotated[str, typer.Option("--model", "-m", help="Bundled name, model directory or checkpoint.")] = (
            kind
        ),
        limit: Annotated[int | None, typer.Option(min=1, help="Only the first N puzzles.")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1)] = 256,
        dtype: DtypeOption = Dtype.auto,
        device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
        json_output: JsonOption = False,
    ) -> None:
        from trmsolve.models import load_model
        from trmsolve.train import evaluate, load_data, tier_names

        split = load_data(kind, str(data))
        n = min(limit or len(split), len(split))
        network = load_model(model, device=device.value, dtype=dtype.value, task=kind)
        inputs = split.inputs[:n]
        result = evaluate(
            network,
            inputs,
            split.labels[:n],
            split.puzzle_identifiers[:n],
            batch_size=batch_size,
            tiers=tier_names(kind, inputs, split.ratings[:n]),
        )
        report = {"data": str(data), "model": model, "dtype": dtype.value, **result}
        print(json.dumps(report) if json_output else metrics_text(result), flush=True)

    command.__doc__ = f"Exact accuracy of a {kind} model on held-out puzzles, with and without halting, by tier."
    return command


for _kind in ("sudoku", "maze"):
    eval_app.command(_kind)(eval_command(_kind))


# ----------------------------------------------------------------------------------------- other commands


class Task(str, Enum):
    sudoku = "sudoku"
    maze = "maze"
    arc = "arc"


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="A published checkpoint (step_N or *.pt) or its run directory.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the model to.")],
    task: Annotated[
        Task | None, typer.Option(help="The puzzle kind, when the vocabulary does not tell.", show_default=False)
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="The run's all_config.yaml (or JSON), when it is not beside SRC.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Convert a checkpoint of the published TRM/HRM training code into a trmsolve model directory."""
    from trmsolve.checkpoint import convert as convert_checkpoint
    from trmsolve.checkpoint import read_config

    written = convert_checkpoint(src, out, config=config, task=task.value if task else None)
    model_config, info = read_config(written)
    report = {"output": str(written), "task": info.task, "arch": model_config.arch, "default_steps": info.default_steps}
    finish(json_output, report, f"converted {src} ({model_config.arch}, task {info.task})")


@app.command()
def fetch(
    repo: Annotated[str, typer.Argument(help="OWNER/REPO\\[/PATH]\\[@REVISION] on the Hugging Face Hub.")],
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit.", show_default="main")] = None,
    file: Annotated[
        str | None, typer.Option(help="The checkpoint to take, when the repo holds several.", show_default=False)
    ] = None,
    task: Annotated[
        Task | None, typer.Option(help="The puzzle kind, when the vocabulary does not tell.", show_default=False)
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Download a model from the Hugging Face Hub ahead of time (converted to trmsolve's format if need be)."""
    from trmsolve.checkpoint import read_config
    from trmsolve.hub import fetch as fetch_model
    from trmsolve.hub import parse_spec

    spec = f"hf:{parse_spec(repo, revision=revision, file=file)}"
    path = fetch_model(spec, task=task.value if task else None)
    model_config, info = read_config(path)
    if json_output:
        emit_json(json.dumps({"model": spec, "path": str(path), "task": info.task, "arch": model_config.arch}))
    else:
        print(path)
        print(f"fetched {spec} ({model_config.arch}, task {info.task}): use --model {spec}", file=sys.stderr)


@app.command()
def models(json_output: JsonOption = False) -> None:
    """List the bundled models, those in the Hugging Face cache, and known public TRM/HRM checkpoints to fetch."""
    import dataclasses

    from trmsolve.models import list_models

    entries = list_models()
    if json_output:
        for entry in entries:
            emit_json(json.dumps(dataclasses.asdict(entry)))
        return
    rows = [("NAME", "WHERE", "TASK", "PARAMS", "ACCURACY")]
    for e in entries:
        size = "?" if e.parameters is None else f"{e.parameters / 1e6:.2f}M"
        rows.append((e.name, e.where, e.task or "?", size, e.headline))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:  # one line per model, never wrapped: names are copied whole
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    print("every figure: `trmsolve models --json`; the cards in weights/*/README.md", file=sys.stderr)


def metrics_text(metrics: dict[str, Any], prefix: str = "") -> str:
    """Nested metrics as "name=value" pairs, e.g. "test.exact=0.874 test.mean_steps=9.1"."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            parts.append(metrics_text(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={value:.4g}" if isinstance(value, float) else f"{prefix}{key}={value}")
    return " ".join(p for p in parts if p) or "not measured"


class Generated(str, Enum):
    sudoku = "sudoku"
    maze = "maze"


def _options_for(kind: Generated, owner: Generated, given: dict[str, Any]) -> dict[str, Any]:
    """The options among `given` that were set (not None); an error when they are `owner`'s and kind is not."""
    options = {k: v for k, v in given.items() if v is not None}
    if options and kind is not owner:
        raise TrmsolveError(f"--{next(iter(options)).replace('_', '-')} applies to {owner.value} puzzles only")
    return options


def _maze_options(
    kind: Generated, min_path: int | None, small_share: float | None, small_sides: str | None, algorithms: str | None
) -> dict[str, Any]:
    """The maze generator's keyword arguments from `generate`'s options (an error for Sudoku)."""
    given = {"min_path": min_path, "small_share": small_share, "small_sides": small_sides, "algorithms": algorithms}
    options = _options_for(kind, Generated.maze, given)
    if algorithms is not None:
        options["algorithms"] = [name.strip() for name in algorithms.split(",") if name.strip()]
    if small_sides is not None:
        low, _, high = small_sides.partition("-")
        if not (low.isdigit() and high.isdigit()):
            raise TrmsolveError(f"--small-sides takes MIN-MAX, e.g. 5-13, got {small_sides!r}")
        options["small_sides"] = (int(low), int(high))
    return options


def _sudoku_options(kind: Generated, few_share: float | None, few_givens: int | None) -> dict[str, Any]:
    """The Sudoku generator's keyword arguments from `generate`'s options (an error for mazes).

    --few-givens alone asks for every puzzle to have that few givens.
    """
    options = _options_for(kind, Generated.sudoku, {"few_share": few_share, "few_givens": few_givens})
    if few_givens is not None and few_share is None:
        options["few_share"] = 1.0
    return options


@app.command()
def generate(
    kind: Annotated[Generated, typer.Argument(help="What to generate.")],
    count: Annotated[int, typer.Argument(min=1, help="How many puzzles.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write (source,question,answer,rating).")],
    seed: Annotated[int, typer.Option(help="Same seed, same puzzles.")] = 0,
    min_path: Annotated[
        int | None, typer.Option(help="Maze: shortest path of at least this many steps (111: Maze-Hard).")
    ] = None,
    small_share: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Maze: share of smaller mazes placed on the canvas.")
    ] = None,
    small_sides: Annotated[
        str | None, typer.Option(metavar="MIN-MAX", help="Maze: side lengths of the smaller mazes, within 5-27.")
    ] = None,
    algorithms: Annotated[
        str | None,
        typer.Option(
            metavar="A,B",
            help="Maze: generators to take turns (dfs, prim, kruskal, wilson, rooms, organic, obstacles; default all).",
        ),
    ] = None,
    few_share: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Sudoku: share of puzzles hill-climbed down to --few-givens givens."),
    ] = None,
    few_givens: Annotated[
        int | None,
        typer.Option(
            help="Sudoku: at most this many givens for that share (default 20; alone: for every puzzle). "
            "~0.1 s a puzzle for 20, ~1 s for 19, far slower for 18."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate puzzles with their answers as a CSV in the published data sets' layout."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

    from trmsolve.render import live_progress

    options = _maze_options(kind, min_path, small_share, small_sides, algorithms) | _sudoku_options(
        kind, few_share, few_givens
    )
    data = importlib.import_module(f"trmsolve.data.{kind.value}")
    try:
        rows = data.generate(count, seed, **options)
        columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with live_progress(Console(stderr=True), *columns) as progress:
            task = progress.add_task("generating", total=count)
            written = data.write_csv(out, rows, progress=lambda n: progress.update(task, completed=n))
    except ValueError as exc:
        raise TrmsolveError(str(exc)) from None
    report = {"output": str(out), "kind": kind.value, "count": written, "seed": seed, **options}
    finish(json_output, report, f"wrote {written} {kind.value} puzzles (seed {seed})")


@app.command()
def train(
    task: Annotated[Task, typer.Argument(help="Puzzle kind the model learns.")],
    data: Annotated[str, typer.Option(help="Training CSV (sudoku, maze) or `trmsolve build-arc` split directory.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run directory (checkpoint.pt, log.jsonl); resumed if present.")
    ],
    eval_data: Annotated[str | None, typer.Option(help="Held-out split evaluated every --eval-minutes.")] = None,
    eval_size: Annotated[int, typer.Option(help="Held-out puzzles per evaluation.")] = 1000,
    eval_minutes: Annotated[float, typer.Option(help="Minutes between evaluations.")] = 15.0,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes (this session).")] = None,
    total_steps: Annotated[int, typer.Option(help="Length of the learning-rate schedule.")] = 100_000,
    batch_size: Annotated[int, typer.Option(help="Slots per process.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-4,
    warmup: Annotated[int, typer.Option(help="Warm-up steps.")] = 2000,
    weight_decay: Annotated[float, typer.Option()] = 1.0,
    hidden_size: Annotated[int, typer.Option()] = 256,
    num_heads: Annotated[int, typer.Option()] = 4,
    h_cycles: Annotated[int, typer.Option()] = 3,
    l_cycles: Annotated[int | None, typer.Option(help="Default: 6 for sudoku, 4 otherwise.")] = None,
    layers: Annotated[int, typer.Option()] = 2,
    mlp_t: Annotated[bool | None, typer.Option("--mlp-t/--attention", help="Default: mlp-t for sudoku.")] = None,
    puzzle_emb_ndim: Annotated[int, typer.Option(help="Puzzle-embedding width (prefix tokens the Q head reads).")] = 0,
    puzzle_emb_lr: Annotated[float, typer.Option(help="Sign-SGD rate of the puzzle embeddings.")] = 1e-2,
    max_steps: Annotated[int, typer.Option(help="ACT steps (halt_max_steps).")] = 16,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int | None, typer.Option(help="torch threads per process.")] = None,
    dtype: Annotated[
        Dtype, typer.Option(help="Matmul number format: auto = bfloat16 (autocast) only where it is native.")
    ] = Dtype.auto,
    canvas_crop: Annotated[
        int, typer.Option(help="Maze: run on the top-left square holding the mazes, at least this side (0: all 30x30).")
    ] = 0,
    init: Annotated[
        str | None,
        typer.Option(
            help="Start from this model's weights and architecture (bundled name or directory), fresh optimiser."
        ),
    ] = None,
    export: Annotated[Path | None, typer.Option(help="Write the EMA model in our format here at the end.")] = None,
) -> None:
    """Train a TRM with the published recipe; resumes the run in --out. Scales out under torchrun."""
    from trmsolve.train import TrainConfig, default_model_config
    from trmsolve.train import train as run_training

    overrides: dict[str, Any] = {
        "hidden_size": hidden_size,
        "num_heads": num_heads,
        "H_cycles": h_cycles,
        "L_layers": layers,
        "halt_max_steps": max_steps,
        "puzzle_emb_ndim": puzzle_emb_ndim,
        "canvas_crop": canvas_crop,
    }
    if l_cycles is not None:
        overrides["L_cycles"] = l_cycles
    if mlp_t is not None:
        overrides.update(mlp_t=mlp_t, pos_encodings="none" if mlp_t else "rope")
    config = TrainConfig(
        task=task.value,
        data=data,
        out=str(out),
        eval_data=eval_data,
        model=default_model_config(task.value, **overrides),
        batch_size=batch_size,
        lr=lr,
        lr_warmup_steps=warmup,
        total_steps=total_steps,
        weight_decay=weight_decay,
        seed=seed,
        max_minutes=minutes,
        threads=threads,
        dtype=dtype.value,
        init=init,
        eval_size=eval_size,
        eval_minutes=eval_minutes,
        puzzle_emb_lr=puzzle_emb_lr,
    )
    trainer = run_training(config, log=lambda line: print(line, file=sys.stderr, flush=True))
    if export is not None and trainer.rank == 0:
        print(trainer.export(export))


@app.command()
def version(json_output: JsonOption = False) -> None:
    """Print the version."""
    if json_output:
        emit_json(json.dumps({"version": __version__}))
    else:
        print(f"trmsolve {__version__}")


def main() -> None:
    """Console-script entry point: exit codes and one-line errors for everything click would box or trace."""
    import os

    try:  # Typer >= 0.20 carries its own copy of click
        from typer._click import exceptions as click
    except ImportError:
        from click import exceptions as click  # type: ignore[no-redef]

    # OpenMP threads that spin while waiting take a busy core from other processes: 5 puzzles took 22 s
    # instead of 1.2 s next to another job on two cores. Passive waiting costs nothing on an idle CPU.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        code = app(prog_name="trmsolve", standalone_mode=False)
    except click.UsageError as exc:
        error(exc.format_message())
        if exc.ctx is not None:
            print(f"see '{exc.ctx.command_path} --help'", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except click.ClickException as exc:
        error(exc.format_message())
        code = exc.exit_code
    except (KeyboardInterrupt, click.Abort):
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_CLOSED_PIPE
    if code == EXIT_CLOSED_PIPE:
        # The reader went away (`| head -1`): exit quietly as a process killed by SIGPIPE would, and keep
        # the interpreter's final flush from failing again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code or 0)

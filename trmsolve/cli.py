"""The `trmsolve` command: a thin layer over `trmsolve.solver`, `trmsolve.checkpoint` and `trmsolve.data`.

Data goes to stdout (grids, or JSON Lines with --json), progress and messages to stderr. Nothing here
imports torch or the heavier modules at start-up, so `trmsolve --help` and argument errors answer at once.
Exit codes: 0 all answers valid (and right, where the answer is known), 1 some answer invalid or wrong,
2 bad input or usage (also when a batch went on past a bad file), 130 interrupted.
"""

from __future__ import annotations

import errno
import importlib
import json
import signal
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from trmsolve import __version__
from trmsolve.errors import PuzzleParseError, TrmsolveError

if TYPE_CHECKING:
    from trmsolve.kinds import Puzzle

EXIT_INVALID = 1  # some answer is invalid or differs from the known answer
EXIT_BAD_INPUT = 2


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
                raise  # the reader went away (e.g. `| head`): Typer exits quietly
            error(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None


app = typer.Typer(
    cls=CommandGroup,
    help="Solve Sudoku, mazes and ARC-AGI tasks with tiny recursive reasoning models (TRM, HRM).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

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
    batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, help="Puzzles run together.")] = 64,
    max_steps: Annotated[
        int | None,
        typer.Option(
            min=1, help="Most refinement steps per puzzle.", show_default="the checkpoint's (16 published)"
        ),
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

    from trmsolve.checkpoint import load_model

    model_name = model or DEFAULT_MODELS[kind_name]
    source = model or default_model(kind_name)
    network = load_model(source, device=device.value, config=config, task=kind_name)

    out, err = Console(soft_wrap=True), Console(stderr=True, soft_wrap=True)
    shown = err if json_output else out  # where trace frames and the summary go: never into JSON Lines
    tracer = Tracer(kind, shown) if trace else None
    show_progress = err.is_terminal and not trace and (json_output or quiet or not out.is_terminal)
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


for _kind, _help in KIND_HELP.items():
    app.command(_kind, help=_help)(solve_puzzles)


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
    from rich.console import Console
    from rich.table import Table

    from trmsolve.checkpoint import bundled_dir, bundled_names, read_config
    from trmsolve.hub import KNOWN_CHECKPOINTS, cached_models

    places = [(name, "bundled", bundled_dir(name)) for name in bundled_names()]
    places += [(cached.spec, "cached", cached.local) for cached in cached_models()]
    rows = []
    for name, where, path in places:
        row: dict[str, Any] = dict(name=name, where=where, task=None, arch=None, default_steps=None, metrics={})
        row["path"] = None if path is None else str(path)
        if path is not None:  # None: a published checkpoint in the cache, converted on first use
            model_config, info = read_config(path)
            row.update(task=info.task, arch=model_config.arch, default_steps=info.default_steps, metrics=info.metrics)
        rows.append(row)
    rows += [
        dict(name=f"hf:{k.repo_id}", where=f"hub ({k.publisher})", task=k.task, arch=k.arch, default_steps=None,
             metrics={}, path=None, reported=k.reported)
        for k in KNOWN_CHECKPOINTS
    ]  # fmt: skip
    if json_output:
        for row in rows:
            emit_json(json.dumps(row))
        return
    if not rows:
        print("no bundled or cached models", file=sys.stderr)
        return
    table = Table()
    for column in ("name", "where", "task", "arch", "steps", "measured"):
        table.add_column(column, no_wrap=column == "name")  # a name is copied whole: never wrapped
    for row in rows:
        known = ("?" if row[key] is None else str(row[key]) for key in ("task", "arch", "default_steps"))
        table.add_row(row["name"], row["where"], *known, row.get("reported") or metrics_text(row["metrics"]))
    Console().print(table)


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


@app.command()
def generate(
    kind: Annotated[Generated, typer.Argument(help="What to generate.")],
    count: Annotated[int, typer.Argument(min=1, help="How many puzzles.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write (source,question,answer,rating).")],
    seed: Annotated[int, typer.Option(help="Same seed, same puzzles.")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Generate puzzles with their answers as a CSV in the published data sets' layout."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    data = importlib.import_module(f"trmsolve.data.{kind.value}")
    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("generating", total=count)
        written = data.write_csv(out, data.generate(count, seed), progress=lambda n: progress.update(task, completed=n))
    report = {"output": str(out), "kind": kind.value, "count": written, "seed": seed}
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
    puzzle_emb_ndim: Annotated[int, typer.Option(help="Puzzle-embedding width (ARC).")] = 0,
    max_steps: Annotated[int, typer.Option(help="ACT steps (halt_max_steps).")] = 16,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int | None, typer.Option(help="torch threads per process.")] = None,
    bf16: Annotated[bool, typer.Option("--bf16/--fp32", help="bf16 autocast for matmuls.")] = True,
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
        bf16=bf16,
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
    """Console-script entry point."""
    app(prog_name="trmsolve")

"""`trmsolve sudoku | maze | arc`: read puzzles, run them, show checked answers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from trmsolve.cli.arc import ArcSetup, solve_arc
from trmsolve.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_INVALID,
    AdaptStart,
    AdaptStartOption,
    AdaptStepsOption,
    CompileOption,
    Device,
    Dtype,
    DtypeOption,
    IdentifiersOption,
    JsonOption,
    ThreadsOption,
    app,
    error,
    note,
)
from trmsolve.cli.view import SolveView
from trmsolve.errors import PuzzleParseError, TrmsolveError
from trmsolve.options import DEFAULT_BATCH_SIZE, DEFAULT_STEPS_PER_VIEW, DEFAULT_TIME_LIMIT, DEFAULT_VIEWS, SolveOptions

if TYPE_CHECKING:
    from trmsolve.distributed import Shard
    from trmsolve.kinds import Puzzle, PuzzleKind
    from trmsolve.network import RecursiveReasoningModel

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
        typer.Argument(
            metavar="INPUT",
            help="Puzzle files, directories (searched recursively), - for stdin, or (Sudoku) the 81 cells themselves.",
            show_default=False,
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            help="Bundled model name, model directory, published checkpoint, or hf:OWNER/REPO[/PATH][@REVISION] "
            "(default: the bundled model for the kind).",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="The run's all_config.yaml, for a published checkpoint without one beside it."
        ),
    ] = None,
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    dtype: DtypeOption = Dtype.auto,
    threads: ThreadsOption = None,
    compile: CompileOption = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, metavar="N", help="Puzzles run together.")
    ] = DEFAULT_BATCH_SIZE,
    max_steps: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="Most refinement steps per puzzle (per view when verifying; default when verifying: the model's "
            f"own budget where its config sets one, 128 for the bundled maze model, else twice the checkpoint's, at "
            f"least {DEFAULT_STEPS_PER_VIEW}; else the checkpoint's, 16 for the published models).",
            show_default=False,
        ),
    ] = None,
    halt: Annotated[
        bool,
        typer.Option(
            help="Stop each puzzle early (at an answer that checks, or when the Q head says so); "
            "--no-halt runs every step of one view, as the published evaluation does."
        ),
    ] = True,
    verify: Annotated[
        bool,
        typer.Option(
            help="Sudoku and maze: stop at the first answer that passes the puzzle's check, give failing ones more "
            "steps and symmetric views; --no-verify trusts the Q head alone (the published rule)."
        ),
    ] = True,
    views: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help=f"Most views per puzzle: Sudoku and maze, symmetric retries of an answer that fails its check "
            f"(default: the model's, else {DEFAULT_VIEWS}; past a maze's 8 transforms, restarts from a perturbed "
            "state where the model's card measured them); ARC, augmented versions voted over (default: every one "
            "the model knows).",
            show_default=False,
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            min=0.0,
            metavar="SECONDS",
            help="Most seconds of compute a puzzle may take (its share of each batch step; alone, its wall time); "
            "then it settles on its surest answer so far, checked, and says what it tried (0: no limit).",
        ),
    ] = DEFAULT_TIME_LIMIT,
    halt_threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            metavar="P",
            help="With --no-verify: halt when the Q head's halting probability exceeds P (default: the trained rule).",
            show_default=False,
        ),
    ] = None,
    trace: Annotated[
        bool,
        typer.Option("--trace", help="Show every refinement step: answer, changed cells, confidence, halting."),
    ] = False,
    trace_delay: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            metavar="SECONDS",
            help="Pause after each --trace step (default: 0.3 on a terminal, so a person can watch; 0 otherwise).",
            show_default=False,
        ),
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(
            metavar="FILE|DIR/",
            help="Keep every step shown, as --trace draws it, in a file whose suffix picks the format: .gif (.webp, "
            ".png: animated) one puzzle's animation, .svg its last frame, .html a page for every puzzle (a step "
            "slider, play, confidence, the views tried); a folder (ending in /): a .gif a puzzle.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    json_steps: Annotated[
        bool,
        typer.Option("--json-steps", help='With --json: each row also carries every step shown ("trajectory").'),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary, not each puzzle.")] = False,
    keep_order: Annotated[
        bool,
        typer.Option(
            "--keep-order",
            "-k",
            help="Show results in input order (each waits for those before it); by default each comes as soon as "
            "its puzzle settles, with its input position (JSON: index).",
        ),
    ] = False,
    attempts: Annotated[
        int, typer.Option(min=1, metavar="K", help="Voted answers kept per test input (pass@K, K = this).")
    ] = 2,
    submission: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE", help="Write the ARC Prize submission.json (task -> attempts per test input) here."
        ),
    ] = None,
    arc_data: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Folder of the Kaggle-layout ARC task files a published checkpoint was trained on: rebuilds "
            "its identifier map with the published builder settings (once; cached).",
        ),
    ] = None,
    identifiers: IdentifiersOption = None,
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
    from trmsolve.solver import default_model

    kind_name = str(ctx.info_name)  # registered once per kind, below
    kind = get_kind(kind_name)
    shard = join_torchrun(kind_name, inputs, recording=bool(record or json_steps))
    leader = shard is None or shard.leader
    items = read_all(inputs, kind, report=leader)  # before loading the model, so bad input fails fast
    puzzles = [item for item in items if not isinstance(item, PuzzleParseError)]
    bad_input = len(puzzles) < len(items)
    if not puzzles and bad_input:  # each bad file has had its own line: nothing more to say
        raise typer.Exit(EXIT_BAD_INPUT)
    if not puzzles:
        raise TrmsolveError(f"no {kind_name} puzzles to solve in {', '.join(inputs)}")
    if json_steps and not json_output:
        raise TrmsolveError("--json-steps adds the steps to --json rows: pass --json too")
    target = None
    if record:  # checked before the model loads; imported only then, so other runs start without it
        from trmsolve.recording.files import RecordTarget

        target = RecordTarget.parse(record, len(puzzles))
    options = SolveOptions(
        max_steps=max_steps,
        halt=halt,
        halt_threshold=halt_threshold,
        verify=verify,
        views=views,
        batch_size=1 if trace else batch_size,  # one puzzle at a time, or frames would interleave
        time_limit=time_limit or None,
    )
    if max_steps and max_steps > 100:
        note(f"--max-steps {max_steps}: each puzzle may run that many steps, which can take minutes")
    out = Console(soft_wrap=not sys.stdout.isatty())  # wrap at spaces on a terminal; never inside a pipe's line
    err = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
    if leader:
        view = SolveView(kind, out, err, json_output=json_output, quiet=quiet, trace=trace, trace_delay=trace_delay,
                         record=target, json_steps=json_steps)  # fmt: skip
    else:  # another rank of a torchrun job: rank 0 shows everything
        view = SolveView(kind, out, err, json_output=False, quiet=True, trace=False, trace_delay=None, silent=True)

    from trmsolve.hardware import set_threads
    from trmsolve.models import load_model

    set_threads(threads)
    model_name = model or kind.default_model
    source = model or default_model(kind_name)
    with view.status(f"loading {model_name}"):
        where = shard.device(device.value) if shard else device.value
        network = load_model(source, device=where, dtype=dtype.value, config=config, task=kind_name, compile=compile)
    warn_emulated_bf16(network, dtype)
    if kind_name == "arc":  # every augmented version of every task runs before the vote: no streaming
        learn = {"steps": adapt_steps, "start": adapt_start.value} if adapt else None
        all_ok = solve_arc(
            puzzles,
            network,
            view,
            model_name=model_name,
            options=options,
            attempts=attempts,
            submission=submission,
            setup=ArcSetup(arc_data, identifiers, learn),
        )
        raise typer.Exit(EXIT_BAD_INPUT if bad_input else 0 if all_ok else EXIT_INVALID)
    summary = view.run(items, network, options, model_name, in_order=keep_order, shard=shard)
    if not leader:  # rank 0 says how the job went
        raise typer.Exit(0)
    point_past_the_trained_size(summary.unsolved, network, model_name)
    if bad_input:
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(EXIT_INVALID if summary.failed else 0)


def join_torchrun(kind_name: str, inputs: list[str], *, recording: bool = False) -> Shard | None:
    """This process's shard when torchrun started several (`trmsolve.distributed`), else None."""
    from trmsolve.distributed import Shard

    shard = Shard.join()
    if shard is not None and recording:  # a puzzle's steps stay on the rank that ran it
        raise TrmsolveError("--record and --json-steps under torchrun: run them without torchrun")
    if shard is not None and kind_name == "arc":
        raise TrmsolveError("arc under torchrun: a task's views are voted over in one process; run it without torchrun")
    if shard is not None and "-" in inputs:  # the ranks would share one stream, each reading other puzzles
        raise TrmsolveError("stdin under torchrun: every rank reads all the inputs itself; pass files or folders")
    return shard


def warn_emulated_bf16(network: RecursiveReasoningModel, asked: Dtype) -> None:
    """Say once that bfloat16 was asked for on hardware that only emulates it (several times slower there)."""
    import torch

    from trmsolve.hardware import native_bf16

    if asked is Dtype.bfloat16 and network.dtype == torch.bfloat16 and not native_bf16(network.device):
        note(
            f"--dtype bfloat16: this {network.device.type.upper()} has no native bfloat16 matrix instructions, so "
            "it runs several times slower than float32 here (--dtype auto picks float32 on it)"
        )


def point_past_the_trained_size(unsolved: list[Puzzle], network: RecursiveReasoningModel, model_name: str) -> None:
    """A note when mazes larger than the square a cropped model trained on are among the unsolved: that is where
    the bundled maze model fails most (weights/maze/README.md, "Limits"), and a person should hear what else may
    solve them rather than retry."""
    from trmsolve.kinds.maze import maze_extent

    # The square of the run that made the weights: a model may solve on a smaller one (ModelConfig.canvas_crop).
    trained = network.info.provenance.get("train_config", {}).get("model", {}).get("canvas_crop")
    trained = trained or network.config.canvas_crop
    larger = sum(max(maze_extent(p.grid)) > trained for p in unsolved) if trained and network.info.task == "maze" else 0
    if larger:
        note(
            f"{larger} of the unsolved mazes {'are' if larger > 1 else 'is'} larger than the {trained}x{trained} "
            f"model {model_name} trained on: for mazes up to 30x30, a published Maze-Hard checkpoint (`trmsolve "
            "models`) may solve them"
        )


def read_all(inputs: list[str], kind: PuzzleKind, *, report: bool = True) -> list[Puzzle | PuzzleParseError]:
    """Every entry of `inputs` in order, each bad one also reported on its own `error:` line as it is read
    (`report`; under torchrun rank 0 alone reports, so a bad file is reported once)."""
    from trmsolve.solver import read_inputs

    items = list(read_inputs(inputs, kind))
    for item in items:
        if isinstance(item, PuzzleParseError) and report:
            error(str(item))
    return items


ARC_ONLY = ("attempts", "submission", "arc_data", "identifiers", "adapt", "adapt_steps", "adapt_start")
NOT_ARC = ("verify", "keep_order", "time_limit")  # verified solving; arc votes over a whole run: nothing streams


ARC_HELP = {  # where an option means something else for ARC, which votes and cannot check its answers
    "max_steps": "Most refinement steps per augmented version (default: the checkpoint's, 16 for the published "
    "models).",
    "halt": "Stop each augmented version when the Q head says so; --no-halt runs every step, as the published "
    "evaluation does.",
    "halt_threshold": "Halt when the Q head's halting probability exceeds P (default: the trained rule).",
}


class KindCommand(TyperCommand):
    """A solving command: one function serves every kind; each shows only the options that apply to it, in
    the words that apply to it."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)
        hidden = NOT_ARC if self.name == "arc" else ARC_ONLY
        for param in params:
            if self.name == "arc" and param.name in ARC_HELP:
                param.help = ARC_HELP[param.name]
        return [p for p in params if p.name not in hidden]


for _kind, _help in KIND_HELP.items():
    app.command(_kind, help=_help, cls=KindCommand)(solve_puzzles)

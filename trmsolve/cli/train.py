"""Data and training commands: `generate`, `train`, `eval sudoku | maze`."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from trmsolve.cli.common import (
    CompileOption,
    Device,
    Dtype,
    DtypeOption,
    JsonOption,
    Task,
    ThreadsOption,
    app,
    bar_updater,
    eval_app,
    finish,
)
from trmsolve.errors import TrmsolveError
from trmsolve.kinds import GENERATED
from trmsolve.train.config import CPU_MODEL, TrainConfig, run_default


def eval_command(kind: str) -> Callable[..., None]:
    """`eval sudoku|maze`: exact whole-answer accuracy on a held-out CSV by the published protocol (all steps,
    Q-head halting) and by verified solving, side by side with their compute, by tier."""

    def command(
        data: Annotated[Path, typer.Option(metavar="CSV", help="Held-out CSV (source,question,answer,rating).")],
        model: Annotated[
            str, typer.Option("--model", "-m", metavar="MODEL", help="Bundled name, model directory or checkpoint.")
        ] = kind,
        limit: Annotated[int | None, typer.Option(min=1, metavar="N", help="Only the first N puzzles.")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", "-b", min=1, metavar="N")] = 256,
        verified: Annotated[
            bool,
            typer.Option(
                "--verify/--no-verify",
                "--verified/--no-verified",  # the first spelling; documented in model cards
                help="Also score verified solving (the solvers' default) beside the published protocol.",
            ),
        ] = True,
        views: Annotated[int | None, typer.Option(min=1, metavar="N", help="Verified solving: most views.")] = None,
        max_steps: Annotated[
            int | None, typer.Option(min=1, metavar="N", help="Verified solving: most steps per view.")
        ] = None,
        dtype: DtypeOption = Dtype.auto,
        device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
        threads: ThreadsOption = None,
        compile: CompileOption = False,
        json_output: JsonOption = False,
    ) -> None:
        from rich.console import Console

        from trmsolve.distributed import Shard
        from trmsolve.evaluation import evaluate, evaluate_verified, tier_names
        from trmsolve.hardware import describe, set_threads
        from trmsolve.models import load_model
        from trmsolve.options import SolveOptions
        from trmsolve.render import count_bar
        from trmsolve.train import load_data

        set_threads(threads)
        shard = Shard.join()  # under torchrun: the ranks share the work, rank 0 reports
        leader = shard is None or shard.leader
        split = load_data(kind, str(data))
        n = min(limit or len(split), len(split))
        where = shard.device(device.value) if shard else device.value
        network = load_model(model, device=where, dtype=dtype.value, task=kind, compile=compile)
        inputs = split.inputs[:n]
        tiers = tier_names(kind, inputs, split.ratings[:n])
        err = Console(stderr=True)
        with count_bar(err) if err.is_terminal and leader else nullcontext() as bar:  # minutes: never silent
            result = evaluate(
                network, inputs, split.labels[:n], split.puzzle_identifiers[:n], batch_size=batch_size, tiers=tiers,
                progress=bar_updater(bar, "published protocol: all steps, puzzles"),
                shard=shard and shard.part("protocol"),
            )  # fmt: skip
            if verified:
                options = SolveOptions(views=views, max_steps=max_steps, batch_size=min(batch_size, 64))
                progress = bar_updater(bar, "verified solving, puzzles")
                result["verified"] = evaluate_verified(network, kind, data, n, options, tiers=tiers, progress=progress,
                                                       shard=shard and shard.part("verified"))  # fmt: skip
        if not leader:
            return
        dtype_name = str(network.dtype).removeprefix("torch.")
        report = {"data": str(data), "model": model, "dtype": dtype_name, **result, "machine": describe(where)}
        if shard is not None:
            report["ranks"] = shard.world
        print(json.dumps(report) if json_output else metrics_text(result), flush=True)

    command.__doc__ = (
        f"Exact accuracy of a {kind} model on held-out puzzles: the published protocol (all steps, Q-head "
        "halting) and verified solving, with their compute, by tier."
    )
    return command


for _kind in GENERATED:
    _summary = f"Exact accuracy of a {_kind} model on held-out puzzles, by tier."
    eval_app.command(_kind, short_help=_summary)(eval_command(_kind))


def metrics_text(metrics: dict[str, Any], prefix: str = "") -> str:
    """Nested metrics as "name=value" pairs, e.g. "test.exact=0.874 test.mean_steps=9.1"."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            parts.append(metrics_text(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={value:.4g}" if isinstance(value, float) else f"{prefix}{key}={value}")
    return " ".join(p for p in parts if p) or "not measured"


Generated = Enum("Generated", {name: name for name in GENERATED}, type=str)  # kinds `generate` makes


def _options_for(kind: Generated, owner: Generated, given: dict[str, Any]) -> dict[str, Any]:
    """The options among `given` that were set (not None); an error when they are `owner`'s and kind is not."""
    options = {k: v for k, v in given.items() if v is not None}
    if options and kind is not owner:
        raise TrmsolveError(f"--{next(iter(options)).replace('_', '-')} applies to {owner.value} puzzles only")
    return options


def _maze_options(
    kind: Generated,
    min_path: int | None,
    small_share: float | None,
    small_sides: str | None,
    algorithms: str | None,
    ties: bool | None = None,
) -> dict[str, Any]:
    """The maze generator's keyword arguments from `generate`'s options (an error for Sudoku)."""
    given = {"min_path": min_path, "small_share": small_share, "small_sides": small_sides, "algorithms": algorithms,
             "ties": ties or None}  # fmt: skip
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
    ties: Annotated[
        bool,
        typer.Option(
            "--ties",
            help="Maze: G may be reached by several shortest paths (open obstacle fields with long paths always "
            "are); the answer is one of them. Default: a unique shortest path.",
        ),
    ] = False,
    few_share: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Sudoku: share of puzzles hill-climbed down to --few-givens givens."),
    ] = None,
    few_givens: Annotated[
        int | None,
        typer.Option(
            help="Sudoku: at most this many givens for that share (default 20; alone: for every puzzle). "
            "Seconds a puzzle at 20 and tens of seconds at 19 (docs/cli.md)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Generate puzzles with their answers as a CSV in the published data sets' layout."""
    from rich.console import Console

    from trmsolve.data.csvfile import write_csv
    from trmsolve.render import count_bar

    options = _maze_options(kind, min_path, small_share, small_sides, algorithms, ties) | _sudoku_options(
        kind, few_share, few_givens
    )
    data = importlib.import_module(f"trmsolve.data.{kind.value}")
    err = Console(stderr=True)
    try:
        rows = data.generate(count, seed, **options)
        with count_bar(err) if err.is_terminal else nullcontext() as bar:  # stderr stays clean in a pipe or log
            moved = bar_updater(bar, "generating")
            progress = None if moved is None else (lambda done: moved(done, count))
            if progress is not None:
                progress(0)  # the total from the start, not only once the first row is written
            written = write_csv(out, rows, progress=progress)
    except ValueError as exc:
        raise TrmsolveError(str(exc)) from None
    report = {"output": str(out), "kind": kind.value, "count": written, "seed": seed, **options}
    finish(json_output, report, f"wrote {written} {kind.value} puzzles (seed {seed})")


# `train` options that set a model field, by option name.
MODEL_FIELDS = {"hidden_size": "hidden_size", "num_heads": "num_heads", "h_cycles": "H_cycles", "l_cycles": "L_cycles",
                "layers": "L_layers", "max_steps": "halt_max_steps", "puzzle_emb_ndim": "puzzle_emb_ndim",
                "canvas_crop": "canvas_crop", "neighbour_attention": "neighbour_attention",
                "position_free_prefix": "position_free_prefix"}  # fmt: skip


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether the user set this option (on the command line or from the environment), not its default; False
    for a name that is no option of the command."""
    source = ctx.get_parameter_source(name)  # by name: newer Typer carries its own copy of click's enum
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


@app.command()
def train(
    ctx: typer.Context,
    task: Annotated[Task, typer.Argument(help="Puzzle kind the model learns.")],
    data: Annotated[str, typer.Option(help="Training CSV (sudoku, maze) or `trmsolve build-arc` split directory.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Run directory (checkpoint.pt, log.jsonl); resumed if present, with the run's own settings "
            "(--total-steps, --dtype, --eval-size, --eval-minutes change them only when given).",
        ),
    ],
    eval_data: Annotated[
        str | None,
        typer.Option(
            help="Held-out split evaluated every --eval-minutes; the EMA of the best evaluation is kept in OUT/best."
        ),
    ] = None,
    eval_size: Annotated[int, typer.Option(help="Held-out puzzles per evaluation.")] = run_default("eval_size"),
    eval_minutes: Annotated[float, typer.Option(help="Minutes between evaluations.")] = run_default("eval_minutes"),
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes (this session).")] = None,
    total_steps: Annotated[int, typer.Option(help="Length of the learning-rate schedule.")] = run_default(
        "total_steps"
    ),
    batch_size: Annotated[int, typer.Option(help="Slots per process.")] = run_default("batch_size"),
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = run_default("lr"),
    warmup: Annotated[int, typer.Option(help="Warm-up steps.")] = run_default("lr_warmup_steps"),
    weight_decay: Annotated[float, typer.Option()] = run_default("weight_decay"),
    question_weight: Annotated[
        float,
        typer.Option(
            help="Loss weight of the cells the puzzle asks about (maze open cells, Sudoku blanks) against the "
            "cells the input already decides; 1 = the published recipe."
        ),
    ] = run_default("question_weight"),
    answer_weight: Annotated[
        float,
        typer.Option(
            help="Loss weight of the cells whose answer differs from the input (a maze's path, Sudoku blanks, "
            "the cells an ARC output changes), times --question-weight; 1 = the published recipe."
        ),
    ] = run_default("answer_weight"),
    supervise_from: Annotated[
        int,
        typer.Option(
            min=1,
            help="ACT steps before this one run without a token loss and without halting (the Q head still "
            "learns); 1 = every step, the published recipe.",
        ),
    ] = run_default("supervise_from"),
    hidden_size: Annotated[int, typer.Option()] = CPU_MODEL["hidden_size"],
    num_heads: Annotated[int, typer.Option()] = CPU_MODEL["num_heads"],
    h_cycles: Annotated[
        int,
        typer.Option(
            help="With --init, replaces the initial model's, as do --l-cycles and --act-steps (no weight "
            "depends on them).",
        ),
    ] = CPU_MODEL["H_cycles"],
    l_cycles: Annotated[int, typer.Option(help="Default: 6 for sudoku.")] = CPU_MODEL["L_cycles"],
    layers: Annotated[int, typer.Option()] = CPU_MODEL["L_layers"],
    mlp_t: Annotated[bool | None, typer.Option("--mlp-t/--attention", help="Default: mlp-t for sudoku.")] = None,
    neighbour_attention: Annotated[
        bool,
        typer.Option(
            help="Maze: each cell attends to its four neighbours only (one local rule for every size).",
        ),
    ] = CPU_MODEL["neighbour_attention"],
    position_free_prefix: Annotated[
        bool,
        typer.Option(
            help="With --neighbour-attention: the prefix token and the cells score each other without positions, "
            "so the rule is the same everywhere on the canvas. With --init, typed, it replaces the initial model's.",
        ),
    ] = CPU_MODEL["position_free_prefix"],
    puzzle_emb_ndim: Annotated[
        int,
        typer.Option(help="Puzzle-embedding width (prefix tokens the Q head reads)."),
    ] = CPU_MODEL["puzzle_emb_ndim"],
    puzzle_emb_lr: Annotated[
        float | None,
        typer.Option(help="Sign-SGD rate of the puzzle embeddings (default: the published 1e-2 for arc, 1e-4 else)."),
    ] = None,
    max_steps: Annotated[
        int,
        typer.Option(
            "--act-steps",
            "--max-steps",  # its first name, kept for old commands; the solvers' --max-steps is a view's budget
            help="ACT steps the model learns to take (halt_max_steps); --max-steps is its old name.",
        ),
    ] = CPU_MODEL["halt_max_steps"],
    seed: Annotated[int, typer.Option()] = run_default("seed"),
    threads: Annotated[int | None, typer.Option(help="torch threads per process.")] = None,
    dtype: Annotated[
        Dtype, typer.Option(help="Matmul number format: auto = bfloat16 (autocast) only where it is native.")
    ] = Dtype.auto,
    compile: Annotated[
        bool,
        typer.Option(
            "--compile/--no-compile",
            help="torch.compile the network (needs a C++ compiler; minutes to compile): for long runs, a "
            "21x21 maze step 1.47x faster in bfloat16, 1.15x in float32. Per session: a resumed run takes this "
            "session's choice.",
        ),
    ] = run_default("compile"),
    canvas_crop: Annotated[
        int,
        typer.Option(
            help="Maze: run on the top-left square holding the mazes, at least this side (0: all 30x30). With "
            "--init, typed, it replaces the initial model's (no weight depends on it); untyped, the model's stays.",
        ),
    ] = CPU_MODEL["canvas_crop"],
    init: Annotated[
        str | None,
        typer.Option(
            help="Start from this model's weights and architecture (bundled name or directory), fresh optimiser."
        ),
    ] = None,
    export: Annotated[Path | None, typer.Option(help="Write the EMA model in our format here at the end.")] = None,
) -> None:
    """Train a TRM with the published recipe; resumes the run in --out. Scales out under torchrun."""
    from trmsolve.train import train as run_training
    from trmsolve.train.config import ADJUSTABLE_FIELDS, WEIGHT_FREE_FIELDS, default_model_config

    # The model options typed, as model fields (read by name: MODEL_FIELDS); the rest comes from the CPU-sized
    # model and the kind's defaults.
    model_options = [option for option in MODEL_FIELDS if _typed(ctx, option)]
    overrides: dict[str, Any] = {MODEL_FIELDS[option]: ctx.params[option] for option in model_options}
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
        question_weight=question_weight,
        answer_weight=answer_weight,
        supervise_from=supervise_from,
        seed=seed,
        max_minutes=minutes,
        threads=threads,
        compile=compile,
        dtype=dtype.value,
        init=init,
        init_overrides={name: value for name, value in overrides.items() if init and name in WEIGHT_FREE_FIELDS},
        eval_size=eval_size,
        eval_minutes=eval_minutes,
        puzzle_emb_lr=puzzle_emb_lr,
    )
    typed = {name for name in ADJUSTABLE_FIELDS if _typed(ctx, name)}  # an option of the same name, typed
    trainer = run_training(config, changed=typed, log=lambda line: print(line, file=sys.stderr, flush=True))
    if export is not None and trainer.rank == 0:
        print(trainer.export(export))

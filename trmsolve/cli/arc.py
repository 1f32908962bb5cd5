"""ARC commands: the `arc` solving path (identifier maps, --adapt, voting) and `build-arc`, `eval arc`."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trmsolve.cli.common import (
    EXIT_INTERRUPTED,
    AdaptStart,
    AdaptStartOption,
    AdaptStepsOption,
    CompileOption,
    Device,
    Dtype,
    DtypeOption,
    IdentifiersOption,
    JsonOption,
    app,
    bar_updater,
    emit_json,
    eval_app,
    finish,
    note,
)
from trmsolve.errors import PuzzleParseError, TrmsolveError
from trmsolve.options import SolveOptions

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from trmsolve.arc.predict import ArcAnswer
    from trmsolve.cli.view import SolveView
    from trmsolve.kinds import Puzzle
    from trmsolve.network import RecursiveReasoningModel
    from trmsolve.recording import Recording
    from trmsolve.solver import Step


@dataclass(frozen=True)
class ArcSetup:
    """How a model learns which task each of its puzzle embeddings is: its own map, a map file (`identifiers`),
    one rebuilt from the task files it was trained on (`arc_data`), and `adapt` (keyword arguments of
    `arc.adapt.adapt`) for tasks it never saw."""

    arc_data: Path | None = None
    identifiers: Path | None = None
    adapt: dict[str, Any] | None = None


def prepare_arc_model(
    network: RecursiveReasoningModel, puzzles: list[Puzzle], setup: ArcSetup, *, err: Console
) -> None:
    """Give the model its identifier map (from --identifiers, or rebuilt from --arc-data for a published
    checkpoint) and, with --adapt, embeddings for the tasks it never saw; say what was done and what could
    not be."""
    from trmsolve.arc.adapt import adapt as adapt_task
    from trmsolve.arc.identifiers import attach_identifier_map, read_identifier_map
    from trmsolve.arc.views import recognise_tasks, task_views
    from trmsolve.kinds.arc_grids import parse_identifier
    from trmsolve.render import count_bar

    arc_data, adapt = setup.arc_data, setup.adapt
    if network.config.puzzle_emb_ndim <= 0:
        if arc_data is not None or adapt is not None or setup.identifiers is not None:
            note("this model has no puzzle embeddings: --arc-data, --identifiers and --adapt do not apply")
        return
    if setup.identifiers is not None:
        network.identifiers = read_identifier_map(setup.identifiers, network)
        note(f"identifier map from {setup.identifiers} ({len(network.identifiers):,} identifiers)")
    elif network.identifiers is None and arc_data is not None:
        settings = attach_identifier_map(network, arc_data)
        note(f"identifier map rebuilt with the published {settings.name} builder settings over {arc_data} (cached)")
    elif arc_data is not None:
        note("the model carries its own identifier map; --arc-data is not needed")
    elif network.identifiers is None:
        note(
            "this checkpoint carries no identifier map: pass --arc-data DIR (the task files it was trained on) "
            "or --identifiers FILE"
        )
    for task, match in recognise_tasks(network, puzzles).items():
        note(f"task {task} is the model's known task {match} (the same demonstrations): solved as {match}")
    known = task_views(network.identifiers)
    unknown = list(dict.fromkeys(str(p.meta["task_id"]) for p in puzzles if str(p.meta["task_id"]) not in known))
    if unknown and adapt is None:
        listed = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        note(
            f"{len(unknown)} task(s) the model never saw ({listed}): they run with the blank identifier, i.e. "
            f"guess; --adapt learns embeddings for them first ({ADAPT_COST}; docs/arc.md)"
        )
        return
    pairs = {str(p.meta["task_id"]): p.meta["train"] for p in puzzles}
    for number, task in enumerate(unknown):
        try:
            with count_bar(err) if err.is_terminal else nullcontext() as bar:
                result = adapt_task(network, task, pairs[task], progress=AdaptProgress(bar, task), **adapt)
        except KeyboardInterrupt:
            print(f"interrupted while adapting {task}: {number} of {len(unknown)} unseen tasks adapted, nothing "
                  "solved yet", file=sys.stderr, flush=True)  # fmt: skip
            raise typer.Exit(EXIT_INTERRUPTED) from None
        started = ", ".join(dict.fromkeys(parse_identifier(name).task for name in result.started_from))
        note(
            f"adapted {task} in {result.seconds:.1f} s: {result.start_seconds:.1f} s choosing where to start "
            f"({started}), then {result.steps} steps over {result.versions} augmented versions "
            f"(final loss {result.loss:.3f}; demonstrations exact {result.demo_exact:.0%})"
        )


# Measured with the bundled arc-demo model on two cores of an AVX2 CPU (docs/arc.md, "--adapt").
ADAPT_COST = "about 4 minutes a task on two CPU cores"


class AdaptProgress:
    """`arc.adapt.adapt`'s progress as two lines of a bar: choosing where to start, then the steps."""

    def __init__(self, bar: Progress | None, task: str) -> None:
        self.bar, self.task = bar, task
        self.choosing = bar.add_task(f"adapting {task}: choosing where to start", total=100) if bar else None
        self.training: Any = None

    def __call__(self, done: int, total: int, value: float) -> None:
        if self.bar is None:
            return
        if not done:  # value: the share of the candidates tried
            self.bar.update(self.choosing, completed=100 * value)
            return
        if self.training is None:
            self.bar.update(self.choosing, completed=100)
            self.training = self.bar.add_task(f"adapting {self.task}", total=total)
        self.bar.update(self.training, completed=done, description=f"adapting {self.task}: loss {value:.3f}")


def voted_frame(answer: ArcAnswer) -> Step:
    """The last `--trace` frame of an ARC test input: attempt 1 of the vote, the answer it reports."""
    import numpy as np

    from trmsolve.solver import Step

    best = answer.candidates[0]
    caption = f"the vote's answer: attempt 1, {best.votes}/{answer.runs} votes over the augmented versions"
    ones = np.ones(best.grid.shape)
    return Step(answer.puzzle, 0, 0, best.grid, None, ones, best.q_halt_prob, True, caption=caption)


def recorded(view: SolveView, answer: ArcAnswer, attempts: int, index: int) -> Recording | None:
    """An ARC test input's recording (its plain run's steps, then the vote's answer), written where --record says."""
    if view.recorder is None or not answer.candidates or not answer.candidates[0].grid.size:
        return None  # no grid was voted for: nothing to end the recording on
    verdict = view.kind.verify(answer.puzzle, answer.candidates[0].grid)
    voted = [f"attempt {n}: {c.votes}/{answer.runs} votes" for n, c in enumerate(answer.candidates[:attempts], 1)]
    taken = view.recorder.take(answer.puzzle, verdict, views=voted, views_are="Voted answers", reported=0, index=index)
    return view.keep(taken)


def solve_arc(
    puzzles: list[Puzzle],
    network: RecursiveReasoningModel,
    view: SolveView,
    *,
    model_name: str,
    options: SolveOptions,
    attempts: int,
    submission: Path | None,
    setup: ArcSetup,
) -> bool:
    """`trmsolve arc`: vote over the augmented versions of each test input; show the attempts and pass@K.
    True when every first attempt is a grid and no known answer is missed by all attempts."""
    from trmsolve.arc.predict import predict
    from trmsolve.arc.score import score, write_submission
    from trmsolve.kinds import get_kind
    from trmsolve.kinds.arc_grids import grid_problem
    from trmsolve.render import arc_answer_view, arc_score_table, count_bar
    from trmsolve.solver import solve

    kind, tracer, on_step = get_kind("arc"), view.tracer, view.on_step
    prepare_arc_model(network, puzzles, setup, err=view.err)
    run = {"max_steps": options.max_steps, "halt": options.halt, "halt_threshold": options.halt_threshold}
    if on_step is not None:  # the plain version of each test input, step by step (not part of the vote)
        try:
            for puzzle in puzzles:
                for _ in solve([puzzle], network, kind=kind, options=options, on_step=on_step):
                    pass
        finally:
            if tracer is not None:
                tracer.close()
    with count_bar(view.err) if view.err.is_terminal else nullcontext() as bar:
        progress = bar_updater(bar, "running augmented versions")
        answers = predict(
            network, puzzles, max_views=options.views, batch_size=options.batch_size, progress=progress, **run
        )
    if on_step is not None:  # the trace ends on the answer reported: the vote's first attempt
        try:
            for answer in answers:
                if answer.candidates and answer.candidates[0].grid.size:  # a grid to draw
                    on_step(voted_frame(answer))
        finally:
            if tracer is not None:
                tracer.close()
    shown = view.shown
    try:
        recordings = [recorded(view, answer, attempts, index) for index, answer in enumerate(answers)]
    finally:
        view.close_recording()
    for answer, recording in zip(answers, recordings, strict=True):
        if view.json_output:
            emit_json(view.json_row(answer.to_dict(attempts, model_name), recording))
        elif not view.quiet:
            view.out.print(arc_answer_view(kind, answer, attempts))
    scores = score(answers, sorted({1, attempts}))
    if scores.tasks:
        shown.print(arc_score_table(scores, per_task=not view.quiet))
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
    from rich.console import Console

    from trmsolve.arc.builder import build_arc_dataset
    from trmsolve.arc.views import read_task_list

    wanted = read_task_list(tasks) if tasks is not None else None
    err = Console(stderr=True)
    building = f"building the ARC data set: {num_aug} augmented versions a task, then writing {output_dir}"
    try:
        with err.status(building) if err.is_terminal else nullcontext():  # minutes for a whole subset
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


@eval_app.command("arc", short_help="pass@K of an ARC model over a subset's tasks, as published.")
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
    identifiers: IdentifiersOption = None,
    device: Annotated[Device, typer.Option(help="Where the model runs.")] = Device.auto,
    dtype: DtypeOption = Dtype.auto,
    compile: CompileOption = False,
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

    from trmsolve.arc.identifiers import DATA_PREFIX
    from trmsolve.arc.predict import predict
    from trmsolve.arc.score import PASS_KS, score, write_submission
    from trmsolve.arc.views import read_task_list
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
    network = load_model(model, device=device.value, dtype=dtype.value, config=config, task="arc", compile=compile)
    if identifiers is None and network.identifiers is None and built.is_file():
        identifiers = data / "identifiers.json"  # the map of the data set being evaluated
    setup = ArcSetup(
        arc_data=data if identifiers is None and network.identifiers is None else None,
        identifiers=identifiers,
        adapt={"steps": adapt_steps, "start": adapt_start.value} if adapt else None,
    )
    err = Console(stderr=True, soft_wrap=True)
    prepare_arc_model(network, puzzles, setup, err=err)
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

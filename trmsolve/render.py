"""Rich views of solver results: one puzzle's result, `--trace` frames, the batch summary and progress.

Every view is a pure function returning a renderable, so tests can render it to text; the classes at
the end only decide where and when views are shown (live on a terminal, as plain text otherwise).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from trmsolve.arc.predict import ArcAnswer
    from trmsolve.arc.score import ArcScore
    from trmsolve.kinds import PuzzleKind, Verdict
    from trmsolve.search import Tick
    from trmsolve.solver import Result, Step, Summary

BAR_WIDTH = 10


def verdict_style(verdict: Verdict) -> tuple[str, str]:
    """Mark and colour: red when the answer breaks the rules or differs from the known answer (exit code 1),
    a neutral "?" when nothing could check it, yellow when it is valid with a catch (a maze path that is not
    a shortest one), green otherwise: ✓ always means checked and right."""
    if not verdict.valid or verdict.correct is False:
        return "✗", "bold red"
    if not verdict.checked:
        return "?", "bold cyan"
    if verdict.problems:
        return "~", "bold yellow"
    return "✓", "bold green"


def halting_bar(probability: float) -> str:
    filled = round(probability * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def verdict_line(result: Result) -> Text:
    """ "✓ solved · 7/16 steps (halted) · q_halt 0.97 · confidence 0.93 · 41 ms"."""
    verdict = result.verdict
    mark, style = verdict_style(verdict)
    text = Text()
    text.append(f"{mark} {verdict.summary}", style=style)
    if verdict.valid and verdict.problems:  # e.g. a maze path that is not a shortest one
        text.append(f" ({'; '.join(verdict.problems)})", style="yellow")
    if verdict.valid and verdict.details.get("shortest"):  # a maze: say what was checked
        text.append(f" · a shortest path ({verdict.details['path_len']} steps)")
    # Why it stopped: the Q head, the step limit, or (verified solving) an answer that passed its check first.
    stop = "halted" if result.halted else "max steps" if result.steps >= result.max_steps else "answer checked"
    text.append(f" · {result.steps}/{result.max_steps} steps ({stop})")
    if result.view:  # the answer came from another view of the puzzle
        text.append(f" · by {view_name(result.view, result.symmetry)} ({result.total_steps} steps in all)")
    elif result.total_steps > result.steps:  # other views ran and none did better than the puzzle as given
        text.append(f" · as given ({result.total_steps} steps in all)")
    text.append(f" · q_halt {result.q_halt_prob:.2f} · confidence {result.confidence:.2f} · {result.elapsed_ms:.0f} ms")
    return text


SHORT_NAME = 24  # a transform named in fewer characters ("rotated 90°") is named on screen; JSON has every name


def view_name(view: int, symmetry: str) -> str:
    """A view for people: "view 4 (rotated 90°)", "view 3 (a relabelled, reordered copy)", "view 9 (... restart 1)"."""
    own, _, restart = symmetry.partition(", restart ")
    shown = own if len(own) <= SHORT_NAME else "a relabelled, reordered copy"
    return f"view {view + 1} ({shown}{f', restart {restart}' if restart else ''})"


def result_view(kind: PuzzleKind, result: Result) -> RenderableType:
    """The puzzle's source, its grid with the answer filled in, and the verdict line."""
    return Group(
        Text(result.puzzle.source, style="dim"),
        kind.render(result.puzzle, result.answer),
        verdict_line(result),
        Text(""),
    )


def changed_cells(step: Step) -> int:
    """Cells that differ from the step before (0 on the first)."""
    return 0 if step.changed is None else int(step.changed.sum())


def changes(step: Step) -> str:
    """ "first answer", "1 cell changed", "12 cells changed"."""
    count = changed_cells(step)
    return "first answer" if step.changed is None else f"{count} cell{'s' * (count != 1)} changed"


def trace_frame(kind: PuzzleKind, step: Step) -> RenderableType:
    """One refinement step: a status line (step, changed cells, confidence, halting probability with a bar)
    and the current answer with changed cells highlighted and unsure cells dimmed."""
    changed = changes(step)
    confidence = float(step.confidence.mean()) if step.confidence.size else 0.0
    if step.caption:  # not one run's step: what the frame shows instead
        status = Text.assemble((step.caption, "bold"), (" · stops here" if step.last else "", "bold"))
        grid = kind.render(step.puzzle, step.answer, changed=step.changed, confidence=step.confidence)
        return Group(Text(step.puzzle.source, style="dim"), status, grid)
    status = Text.assemble(
        (f"step {step.step}/{step.max_steps}", "bold"),
        f" · {changed} · confidence {confidence:.2f} · q_halt {step.q_halt_prob:.2f} ",
        (halting_bar(step.q_halt_prob), "magenta"),
        (" · stops here" if step.last else "", "bold"),
    )
    grid = kind.render(step.puzzle, step.answer, changed=step.changed, confidence=step.confidence)
    if step.view:  # verified solving moved on to another view of the puzzle
        status.append(f" · {view_name(step.view, step.symmetry)}, shown as the puzzle was given", style="cyan")
    return Group(Text(step.puzzle.source, style="dim"), status, grid)


def summary_table(summary: Summary) -> Text:
    """The batch in short lines that fit a 60-column terminal: one figure a line, under "summary"."""
    rows = [("puzzles", str(summary.puzzles)), ("valid", f"{summary.valid}/{summary.puzzles}")]
    if summary.unreadable:  # the error lines scrolled away: every input is accounted for here
        rows.append(("unreadable", f"{len(summary.unreadable)} (not solved; listed below)"))
    if set(summary.routes) - {"as given"}:
        for route in (r for r in ROUTES if r != "restart" or summary.routes.get(r)):  # restarts: where a model has them
            rows.append((f"  {ROUTES[route]}", str(summary.routes.get(route, 0))))
    if summary.known:
        rows.append(("correct", f"{summary.correct}/{summary.known}"))
    rows += [
        ("mean steps", f"{summary.mean_steps:.2f}"),
        ("puzzle-steps", f"{summary.total_steps} ({summary.total_steps / max(1, summary.puzzles):.1f} a puzzle)"),
        ("Q head halted", f"{summary.halted}/{summary.puzzles}"),
        ("time", f"{summary.seconds:.1f} s ({summary.puzzles_per_second:.1f} puzzles/s)"),
    ]
    width = max(len(name) for name, _ in rows)
    text = Text("summary\n", style="bold")
    for name, value in rows:
        text.append(f"{name.ljust(width)}  {value}\n")
    for problem in summary.unreadable[:UNREADABLE_LISTED]:
        text.append(f"  error: {problem}\n", style="red")
    if len(summary.unreadable) > UNREADABLE_LISTED:
        text.append(f"  ... and {len(summary.unreadable) - UNREADABLE_LISTED} more (each on an error: line above)\n")
    text.rstrip()
    return text


UNREADABLE_LISTED = 5
ROUTES = {
    "as given": "solved as given",  # the puzzle itself, within the checkpoint's own steps
    "more steps": "after more steps",  # the puzzle itself, past them
    "other view": "by another view",  # a symmetric view
    "restart": "by a restart",  # a view run again from a perturbed state (search.py)
}


class Tracer:
    """Shows each `Step` as it comes: redrawn in place on a terminal, one frame after another otherwise.

    Puzzles must arrive one at a time (batch size 1), or their frames would interleave.
    """

    def __init__(self, kind: PuzzleKind, console: Console, delay: float = 0.0) -> None:
        self.kind = kind
        self.console = console
        self.delay = delay  # seconds each frame stays up, so a person can follow the steps
        self.live: Live | None = None

    def __call__(self, step: Step) -> None:
        frame = trace_frame(self.kind, step)
        if self.delay:
            time.sleep(self.delay)
        if not self.console.is_terminal:
            self.console.print(frame, "")
            return
        if self.live is None:
            self.live = Live(
                frame, console=self.console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
            )
            self.live.start(refresh=True)
        else:
            self.live.update(frame, refresh=True)
        if step.last:
            self.close()

    def close(self) -> None:
        """Stop redrawing, leaving the last frame on screen."""
        if self.live is not None:
            self.live.stop()
            self.live = None


def live_progress(console: Console, *columns: ProgressColumn | str) -> Progress:
    """A transient progress display on `console` (stderr) that leaves sys.stdout alone.

    Rich's live displays redirect sys.stdout into themselves by default, which would send JSON Lines
    written to stdout onto the terminal whenever stderr is one; data must never pass through progress.
    """
    return Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False)


def progress_bar(console: Console) -> Progress:
    """Puzzles done of all, valid so far, speed, the work in the batch now (views running, puzzle-steps), time
    spent and left; the spinner moves from the first second, and the figures with every network step."""
    return live_progress(
        console,
        SpinnerColumn(),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("puzzles · {task.fields[valid]} valid · {task.fields[rate]:.1f}/s · {task.fields[work]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def batch_work(tick: Tick | None) -> str:
    """What the batch is doing now: "3 puzzles, 24 views running · 1,208 puzzle-steps"."""
    if tick is None:
        return "starting"
    views = f", {tick.rows} views" if tick.rows != tick.puzzles else ""
    return f"{tick.puzzles} puzzle{'s' * (tick.puzzles != 1)}{views} running · {tick.puzzle_steps:,} puzzle-steps"


def progress_line(summary: Summary, total: int, tick: Tick | None = None) -> str:
    """The progress bar's figures as one plain line, for a terminal that another program writes to as well."""
    return (
        f"solving: {summary.puzzles}/{total} puzzles · {summary.valid} valid · {summary.puzzles_per_second:.1f}/s"
        f" · {batch_work(tick)}"
    )


def count_bar(console: Console) -> Progress:
    """A bar for work of known size (ARC runs, adaptation steps): description, done/total, time left."""
    return live_progress(
        console, TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )


def arc_answer_view(kind: PuzzleKind, answer: ArcAnswer, attempts: int) -> RenderableType:
    """An ARC test input beside its voted attempts in the ARC palette, each with its votes and verdict."""
    from trmsolve.kinds.arc import grid_text

    columns = [(f"input {answer.puzzle.grid.shape[0]}x{answer.puzzle.grid.shape[1]}", grid_text(answer.puzzle.grid))]
    line = Text()
    shown = answer.candidates[:attempts]
    for number, candidate in enumerate(shown, 1):
        grid = candidate.grid
        shape = f" {grid.shape[0]}x{grid.shape[1]}" if grid.size else ""
        columns.append((f"attempt {number}{shape}", grid_text(grid) if grid.size else Text("(no grid)")))
        mark, style = verdict_style(kind.verify(answer.puzzle, grid))
        line.append(f"{' · ' if number > 1 else ''}attempt {number} ")
        line.append(mark, style=style)
        line.append(f" ({candidate.votes}/{answer.runs} votes, q_halt {candidate.q_halt_prob:.2f})")
    if len(shown) < attempts:
        rest = (
            f"attempt {attempts} repeats"
            if len(shown) + 1 == attempts
            else f"attempts {len(shown) + 1}-{attempts} repeat"
        )
        line.append(f" · no other answer: {rest} attempt 1", style="dim")
    if not answer.known:
        line.append(" · task unknown to the model: blank identifier", style="yellow")
    table = Table.grid(padding=(0, 2))
    table.add_row(*(Text(title, style="bold") for title, _ in columns))
    table.add_row(*(body for _, body in columns))
    return Group(Text(answer.puzzle.source, style="dim"), table, line, Text(""))


def arc_score_table(score: ArcScore, per_task: bool = True) -> RenderableType:
    """pass@K per task and overall (the mean over tasks, as the published evaluator reports it)."""
    table = Table(title="pass@K", title_justify="left")
    table.add_column("task")
    table.add_column("tests", justify="right")
    for k in score.ks:
        table.add_column(f"pass@{k}", justify="right")
    if per_task:
        for task in score.tasks:
            table.add_row(task.task_id, str(task.tests), *(f"{task.pass_at(k):.3f}" for k in score.ks))
    tests = sum(t.tests for t in score.tasks)
    table.add_row(
        f"mean of {len(score.tasks)} task{'s' * (len(score.tasks) != 1)}",
        str(tests),
        *(f"{score.pass_at(k):.3f}" for k in score.ks),
        style="bold",
    )
    pooled = "pooled over test inputs: " + ", ".join(f"pass@{k} {score.example_pass_at(k):.3f}" for k in score.ks)
    return Group(table, Text(pooled))  # under the table, not its caption: a caption wraps to the table's width

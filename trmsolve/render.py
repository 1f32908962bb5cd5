"""Rich views of solver results: one puzzle's result, `--trace` frames, the batch summary and progress.

Every view is a pure function returning a renderable, so tests can render it to text; the classes at
the end only decide where and when views are shown (live on a terminal, as plain text otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from trmsolve.kinds import PuzzleKind, Verdict
    from trmsolve.solver import Result, Step, Summary

BAR_WIDTH = 10


def verdict_style(verdict: Verdict) -> tuple[str, str]:
    """Mark and colour: red when the answer breaks the rules or differs from the known answer (exit code 1),
    yellow when it is valid with a catch (a maze path that is not a shortest one), green otherwise."""
    if not verdict.valid or verdict.correct is False:
        return "✗", "bold red"
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
    stop = "halted" if result.halted else "max steps"
    text.append(
        f" · {result.steps}/{result.max_steps} steps ({stop}) · q_halt {result.q_halt_prob:.2f}"
        f" · confidence {result.confidence:.2f} · {result.elapsed_ms:.0f} ms"
    )
    return text


def result_view(kind: PuzzleKind, result: Result) -> RenderableType:
    """The puzzle's source, its grid with the answer filled in, and the verdict line."""
    return Group(
        Text(result.puzzle.source, style="dim"),
        kind.render(result.puzzle, result.answer),
        verdict_line(result),
        Text(""),
    )


def trace_frame(kind: PuzzleKind, step: Step) -> RenderableType:
    """One refinement step: a status line (step, changed cells, confidence, halting probability with a bar)
    and the current answer with changed cells highlighted and unsure cells dimmed."""
    changed = "first answer" if step.changed is None else f"{int(step.changed.sum())} cells changed"
    confidence = float(step.confidence.mean()) if step.confidence.size else 0.0
    status = Text.assemble(
        (f"step {step.step}/{step.max_steps}", "bold"),
        f" · {changed} · confidence {confidence:.2f} · q_halt {step.q_halt_prob:.2f} ",
        (halting_bar(step.q_halt_prob), "magenta"),
        (" · stops here" if step.last else "", "bold"),
    )
    grid = kind.render(step.puzzle, step.answer, changed=step.changed, confidence=step.confidence)
    return Group(Text(step.puzzle.source, style="dim"), status, grid)


def summary_table(summary: Summary) -> Table:
    """Puzzles, valid, correct (where an answer was known), mean steps, halted and throughput."""
    table = Table(title="summary", title_justify="left")
    for name in ("puzzles", "valid", "correct", "mean steps", "halted", "puzzles/s", "time"):
        table.add_column(name, justify="right")
    correct = f"{summary.correct}/{summary.known}" if summary.known else "n/a"
    table.add_row(
        str(summary.puzzles),
        f"{summary.valid}/{summary.puzzles}",
        correct,
        f"{summary.mean_steps:.2f}",
        f"{summary.halted}/{summary.puzzles}",
        f"{summary.puzzles_per_second:.1f}",
        f"{summary.seconds:.1f} s",
    )
    return table


class Tracer:
    """Shows each `Step` as it comes: redrawn in place on a terminal, one frame after another otherwise.

    Puzzles must arrive one at a time (batch size 1), or their frames would interleave.
    """

    def __init__(self, kind: PuzzleKind, console: Console) -> None:
        self.kind = kind
        self.console = console
        self.live: Live | None = None

    def __call__(self, step: Step) -> None:
        frame = trace_frame(self.kind, step)
        if not self.console.is_terminal:
            self.console.print(frame, "")
            return
        if self.live is None:
            self.live = Live(frame, console=self.console, auto_refresh=False)
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


def progress_bar(console: Console) -> Progress:
    """A spinner with counts and speed for a batch whose size is not known in advance (inputs stream)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} puzzles · {task.fields[valid]} valid · {task.fields[rate]:.1f}/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )

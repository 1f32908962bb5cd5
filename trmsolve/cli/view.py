"""Where a solving command shows what; shared by `trmsolve sudoku | maze` and `trmsolve arc`."""

from __future__ import annotations

import os
import stat
import sys
import time
from contextlib import nullcontext
from typing import IO, TYPE_CHECKING, Any

import typer

from trmsolve.cli.common import EXIT_INTERRUPTED, emit_json

if TYPE_CHECKING:
    from rich.console import Console

    from trmsolve.kinds import Puzzle, PuzzleKind
    from trmsolve.model import RecursiveReasoningModel
    from trmsolve.options import SolveOptions


PROGRESS_LINE_SECONDS = 5.0  # into a pipe: a line of progress at most this often
BATCH_WAIT = 0.1  # seconds: an answer that took longer than this to come is a new batch's first


def is_pipe(stream: IO[str]) -> bool:
    """Whether `stream` is a pipe (a program reads it) rather than a file, /dev/null or a terminal."""
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in a test)
        return False


class SolveView:
    """Where a solving run shows what: answers or JSON Lines on stdout, progress, trace and summary on stderr
    (or stdout for people), and the one line that says how far an interrupted run got."""

    def __init__(
        self,
        kind: PuzzleKind,
        out: Console,
        err: Console,
        *,
        json_output: bool,
        quiet: bool,
        trace: bool,
        trace_delay: float | None,
    ) -> None:
        from trmsolve.render import Tracer

        self.kind, self.out, self.err = kind, out, err
        self.json_output, self.quiet = json_output, quiet
        self.shown = err if json_output else out  # trace frames and the summary: never into JSON Lines
        delay = trace_delay if trace_delay is not None else (0.3 if self.shown.is_terminal else 0.0)
        self.tracer = Tracer(kind, self.shown, delay=delay) if trace else None
        # A live display on stderr while data goes to a terminal would redraw over the data: there, the answers
        # arriving are the progress. Progress shows when stdout is a pipe or a file, or when -q keeps it empty.
        self.show_progress = err.is_terminal and not trace and (not out.is_terminal or (quiet and not json_output))
        # A program reading a pipe (`| jq`) may print to this same terminal as answers arrive, and a live bar
        # redrawn in place would leave its frames among those lines: into a pipe, progress is whole lines.
        self.progress_lines = self.show_progress and is_pipe(out.file)

    def status(self, message: str) -> Any:
        """A spinner on stderr while something slow happens before the first answer (a terminal only)."""
        return self.err.status(message) if self.err.is_terminal else nullcontext()

    def run(self, puzzles: list[Puzzle], network: RecursiveReasoningModel, options: SolveOptions, name: str) -> Any:
        from trmsolve.render import progress_bar, progress_line, result_view, summary_table, verdict_line
        from trmsolve.solver import Summary, solve

        summary = Summary()
        results = solve(puzzles, network, kind=self.kind, options=options, on_step=self.tracer, model_name=name)
        live = self.show_progress and not self.progress_lines
        next_line = arrived = time.monotonic()
        try:
            with progress_bar(self.err) if live else nullcontext() as progress:
                task = progress.add_task("solving", total=len(puzzles), valid=0, rate=0.0) if progress else None
                for result in results:
                    # A batch's answers arrive together after its work: a line goes out as the next batch's first
                    # answer comes (after a wait), so that it counts whole batches.
                    now = time.monotonic()
                    waited, arrived = now - arrived, now
                    if self.progress_lines and summary.puzzles and waited > BATCH_WAIT and arrived >= next_line:
                        next_line = arrived + PROGRESS_LINE_SECONDS
                        self.err.print(progress_line(summary, len(puzzles)), highlight=False, soft_wrap=True)
                    summary.add(result)
                    if self.json_output:
                        emit_json(result.to_json())
                    elif self.tracer is not None:
                        self.out.print(verdict_line(result), "")
                    elif not self.quiet:
                        self.out.print(result_view(self.kind, result))
                    if progress is not None:
                        rate = summary.puzzles_per_second
                        progress.update(task, completed=summary.puzzles, valid=summary.valid, rate=rate)
        except KeyboardInterrupt:  # after the progress display is gone, so this line stays on screen
            where = "as JSON Lines on stdout" if self.json_output else "above"
            print(f"interrupted: {summary.puzzles} of {len(puzzles)} puzzles done (their results are {where})",
                  file=sys.stderr, flush=True)  # fmt: skip
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            if self.tracer is not None:
                self.tracer.close()
        if summary.puzzles > 1 or self.quiet:
            self.shown.print(summary_table(summary))
        return summary

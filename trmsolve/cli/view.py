"""Where a solving command shows what; shared by `trmsolve sudoku | maze` and `trmsolve arc`."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import typer

from trmsolve.cli.common import EXIT_INTERRUPTED, emit_json

if TYPE_CHECKING:
    from rich.console import Console

    from trmsolve.distributed import Shard
    from trmsolve.errors import PuzzleParseError
    from trmsolve.kinds import Puzzle, PuzzleKind
    from trmsolve.network import RecursiveReasoningModel
    from trmsolve.options import SolveOptions
    from trmsolve.recording import Recording, RecordTarget
    from trmsolve.search import Tick
    from trmsolve.solver import Summary


PROGRESS_LINE_SECONDS = 5.0  # into a pipe: a line of progress at most this often


def is_pipe(stream: IO[str]) -> bool:
    """Whether `stream` is a pipe (a program reads it) rather than a file, /dev/null or a terminal."""
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in a test)
        return False


class SolveView:
    """Where a solving run shows what: answers or JSON Lines on stdout, progress, trace and summary on stderr
    (or stdout for people), and the one line that says how far an interrupted run got. `silent`: nothing at
    all (a torchrun rank other than 0, whose results rank 0 shows)."""

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
        silent: bool = False,
        record: RecordTarget | None = None,
        json_steps: bool = False,
    ) -> None:
        from trmsolve.recording import Recorder
        from trmsolve.render import Tracer

        self.kind, self.out, self.err = kind, out, err
        self.json_output, self.quiet, self.silent = json_output, quiet, silent
        self.shown = err if json_output else out  # trace frames and the summary: never into JSON Lines
        delay = trace_delay if trace_delay is not None else (0.3 if self.shown.is_terminal else 0.0)
        self.tracer = Tracer(kind, self.shown, delay=delay) if trace else None
        self.target, self.json_steps = record, json_steps
        # Every step a solve shows goes to the live trace and, when kept, to the recorder, which passes it on.
        self.recorder = Recorder(then=self.tracer) if record or json_steps else None
        self.on_step = self.recorder or self.tracer
        # Progress from the first second, wherever a person watches: on stderr when stdout goes to a file or a
        # program (or -q keeps it empty); on a terminal that shows the answers, a transient line under them on the
        # same console, which prints each answer above it. The trace is its own progress.
        self.progress_console: Console | None = None
        shows = not (silent or trace)
        if shows and err.is_terminal and (not out.is_terminal or (quiet and not json_output)):
            self.progress_console = err
        elif shows and out.is_terminal and not json_output and not quiet:
            self.progress_console = out
        # A program reading a pipe (`| jq`) may print to this same terminal as answers arrive, and a live bar
        # redrawn in place would leave its frames among those lines: into a pipe, progress is whole lines.
        self.progress_lines = self.progress_console is err and is_pipe(out.file)

    def keep(self, recording: Recording) -> Recording:
        """Write a puzzle's recording where --record says, as soon as it has settled."""
        if self.target is not None:
            self.said_where(self.target.add(recording))
        return recording

    def close_recording(self) -> None:
        """Write what waits for the whole run (an .html page), also when it was interrupted."""
        if self.target is not None:
            self.said_where(self.target.close())

    def said_where(self, path: Path | None) -> None:
        if path is not None and not self.silent:
            print(f"recorded: {path}", file=sys.stderr, flush=True)

    def json_row(self, row: dict[str, Any], recording: Recording | None) -> str:
        """A result's JSON line; with --json-steps, every step shown ("trajectory")."""
        from trmsolve.recording import step_dict
        from trmsolve.solver import json_default

        if self.json_steps and recording is not None:
            row["trajectory"] = [step_dict(step, self.kind) for step in recording.frames]
        return json.dumps(row, default=json_default, ensure_ascii=False)

    def status(self, message: str) -> Any:
        """A spinner on stderr while something slow happens before the first answer (a terminal only)."""
        return self.err.status(message) if self.err.is_terminal and not self.silent else nullcontext()

    def run(
        self,
        items: list[Puzzle | PuzzleParseError],
        network: RecursiveReasoningModel,
        options: SolveOptions,
        name: str,
        *,
        in_order: bool = False,
        shard: Shard | None = None,
    ) -> Summary:
        """Solve and show every input entry (a bad one as an error row), each as soon as it settles; under
        torchrun (`shard`) rank 0 shows the whole job's."""
        from trmsolve.errors import PuzzleParseError
        from trmsolve.render import batch_work, progress_bar, progress_line, result_view, summary_table, verdict_line
        from trmsolve.solver import Summary, solve

        summary = Summary()
        total = sum(not isinstance(item, PuzzleParseError) for item in items)
        position = {id(item): index for index, item in enumerate(items)}
        live = self.progress_console is not None and not self.progress_lines
        next_line = time.monotonic()
        tick: Tick | None = None

        def on_tick(now: Tick) -> None:
            nonlocal tick, next_line
            tick = now
            if progress is not None:
                progress.update(task, work=batch_work(now))
            if self.progress_lines and time.monotonic() >= next_line:
                next_line = time.monotonic() + PROGRESS_LINE_SECONDS
                self.err.print(progress_line(summary, total, now), highlight=False, soft_wrap=True)

        results = solve(items, network, kind=self.kind, options=options, on_step=self.on_step, on_tick=on_tick,
                        model_name=name, in_order=in_order, shard=shard)  # fmt: skip
        try:
            with progress_bar(self.progress_console) if live else nullcontext() as progress:
                fields = {"valid": 0, "rate": 0.0, "work": batch_work(None)}
                task = progress.add_task("solving", total=total, **fields) if progress else None
                for result in results:
                    summary.add(result)
                    if isinstance(result, PuzzleParseError):
                        if self.json_output:
                            emit_json(json.dumps({"index": position[id(result)], **result.to_dict()}))
                        continue  # its error: line went out as it was read; the summary lists it again
                    recording = self.keep(self.recorder.finish(result)) if self.recorder else None
                    if self.json_output:
                        emit_json(self.json_row(result.to_dict(), recording))
                    elif self.tracer is not None:
                        self.out.print(verdict_line(result), "")
                    elif not self.quiet:
                        self.out.print(result_view(self.kind, result))
                    if progress is not None:
                        rate = summary.puzzles_per_second
                        progress.update(task, completed=summary.puzzles, valid=summary.valid, rate=rate)
        except KeyboardInterrupt:  # after the progress display is gone, so this line stays on screen
            if self.silent:
                raise typer.Exit(EXIT_INTERRUPTED) from None
            where = "as JSON Lines on stdout" if self.json_output else "above"
            running = f"; {batch_work(tick)}" if tick else ""
            print(f"interrupted: {summary.puzzles} of {total} puzzles done (their results are {where}){running}",
                  file=sys.stderr, flush=True)  # fmt: skip
            raise typer.Exit(EXIT_INTERRUPTED) from None
        finally:
            if self.tracer is not None:
                self.tracer.close()
            self.close_recording()
        if not self.silent and (summary.puzzles > 1 or self.quiet or summary.unreadable):
            self.shown.print(summary_table(summary))
        return summary

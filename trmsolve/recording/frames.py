"""The refinement as data: every step `--trace` shows, kept per puzzle, with the answer it reported and its verdict.

A `Recorder` is an `on_step` callback of `trmsolve.solve` (beside or instead of the live trace) that keeps the
`solver.Step`s it gets; `finish` pairs a puzzle's frames with its `Result`. The writers (`trmsolve.recording.files`)
draw recordings as animations, a web page or a still, and a notebook can draw `Recording.frames` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.kinds import Picture, Puzzle, PuzzleKind, Verdict, get_kind

if TYPE_CHECKING:
    from trmsolve.network import RecursiveReasoningModel
    from trmsolve.options import SolveOptions
    from trmsolve.solver import Result, Step


MARK_WORDS = {"✓": "SOLVED,", "✗": "FAILED:", "?": "UNCHECKED:", "~": "VALID:"}  # render.verdict_style's marks


def step_dict(step: Step, kind: PuzzleKind) -> dict[str, Any]:
    """A step in the `--json-steps` form: its answer as the kind writes it, and its figures."""
    from trmsolve.render import changed_cells

    return {
        "step": step.step,
        "view": step.view,
        "symmetry": step.symmetry,
        "output": kind.to_text(step.answer),
        "changed": None if step.changed is None else changed_cells(step),
        "confidence": round(float(step.confidence.mean()), 6) if step.confidence.size else 0.0,
        "q_halt_prob": round(step.q_halt_prob, 6),
        "last": step.last,
        **({"caption": step.caption} if step.caption else {}),
    }


@dataclass
class Recording:
    """One puzzle's refinement: its frames, the last of them the reported answer, and how that answer checked."""

    puzzle: Puzzle
    frames: list[Step]  # the steps shown, as `--trace` got them; the last one the reported answer
    verdict: Verdict
    views: list[str] = field(default_factory=list)  # every view tried in order (ARC: the voted attempts)
    views_are: str = "Views tried"  # what `views` lists, as a heading
    reported: int | None = None  # the entry of `views` whose answer is reported
    index: int = 0  # the puzzle's position in the input

    @property
    def kind(self) -> PuzzleKind:
        return get_kind(self.puzzle.kind)

    @property
    def answer(self) -> np.ndarray:
        return self.frames[-1].answer

    def picture(self, frame: Step) -> Picture:
        return self.kind.picture(self.puzzle, frame.answer)

    def headline(self, frame: Step, *, words: bool = False) -> tuple[str, str]:
        """A frame's two lines of text: where it is (step, view), then its figures, or on the last frame the
        verdict. `words`: the verdict mark as a word ("SOLVED" for ✓), for fonts without the marks."""
        from trmsolve.render import changes, verdict_style, view_name

        where = frame.caption or f"step {frame.step}/{frame.max_steps} · {view_name(frame.view, frame.symmetry)}"
        if not frame.last:
            return where, f"Q-halt {frame.q_halt_prob:.2f} · {changes(frame)}"
        mark, _ = verdict_style(self.verdict)
        problems = f" ({'; '.join(self.verdict.problems)})" if self.verdict.valid and self.verdict.problems else ""
        said = "checked" if mark == "✓" and words else self.verdict.summary  # not "SOLVED solved"
        return where, f"{MARK_WORDS[mark] if words else mark} {said}{problems}"


class Recorder:
    """Keeps every `Step` a solve shows, by puzzle; `then` also gets each step (the live `--trace`)."""

    def __init__(self, then: Callable[[Step], None] | None = None) -> None:
        self.then = then
        self.frames: dict[int, list[Step]] = {}  # by id of the puzzle

    def __call__(self, step: Step) -> None:
        self.frames.setdefault(id(step.puzzle), []).append(step)
        if self.then is not None:
            self.then(step)

    def take(self, puzzle: Puzzle, verdict: Verdict, **fields: Any) -> Recording:
        """The recording of `puzzle`, whose steps have all come, ending on the answer reported (an ARC input's
        plain run ends before the vote's answer: only the last frame is the reported one)."""
        frames = self.frames.pop(id(puzzle), [])
        frames[:-1] = [replace(frame, last=False) for frame in frames[:-1]]
        return Recording(puzzle, frames, verdict, **fields)

    def finish(self, result: Result) -> Recording:
        """The recording of a solved puzzle: its frames, ending on `result`'s answer, and the views it tried."""
        return self.take(result.puzzle, result.verdict, views=list(result.view_names),
                         reported=result.view if result.view_names else None, index=result.index)  # fmt: skip


def record(
    puzzles: Iterable[Puzzle],
    model: RecursiveReasoningModel,
    *,
    kind: str | PuzzleKind,
    options: SolveOptions | None = None,
) -> list[Recording]:
    """Solve `puzzles` (Sudoku, maze) and keep every step shown: one `Recording` a puzzle, in input order.

    ARC's recording (the plain version's steps, then the vote's answer) is made by `trmsolve arc --record`.
    """
    from trmsolve.solver import solve

    recorder = Recorder()
    results = solve(puzzles, model, kind=kind, options=options, on_step=recorder, in_order=True)
    return [recorder.finish(result) for result in results if not isinstance(result, Exception)]

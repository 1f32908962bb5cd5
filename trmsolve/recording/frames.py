"""The refinement as data: every step `--trace` shows, kept per puzzle, with the answer it reported and its verdict.

A `Recorder` is an `on_step` callback of `trmsolve.solve` (beside or instead of the live trace); `finish` pairs a
puzzle's frames with its `Result`. The writers (`trmsolve.recording.files`) draw recordings as animations, a web
page or a still, and a notebook can draw `Recording.frames` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.kinds import Picture, Puzzle, PuzzleKind, Verdict, get_kind

if TYPE_CHECKING:
    from trmsolve.network import RecursiveReasoningModel
    from trmsolve.options import SolveOptions
    from trmsolve.solver import Result, Step


MARK_WORDS = {"✓": "SOLVED,", "✗": "FAILED:", "?": "UNCHECKED:", "~": "VALID:"}  # render.verdict_style's marks


@dataclass
class Frame:
    """One step shown: the answer at that step of the view the trace follows, as `--trace` draws it."""

    step: int  # steps this view has run (0: not a step of one run, e.g. ARC's vote)
    max_steps: int
    view: int  # 0 = the puzzle as given
    symmetry: str  # the view's transform ("as given", "rotated 90°, restart 1")
    answer: np.ndarray  # in the puzzle's own frame
    changed: np.ndarray | None  # bool, answer-shaped: differs from the previous frame (None: the first answer)
    confidence: np.ndarray  # float, answer-shaped: probability of each cell's predicted token
    q_halt_prob: float
    last: bool  # the reported answer
    caption: str = ""  # what the frame shows when it is not a step of one run

    @property
    def changed_cells(self) -> int:
        return 0 if self.changed is None else int(self.changed.sum())

    def to_dict(self, kind: PuzzleKind) -> dict[str, Any]:
        """The `--json-steps` form: the step's answer as the kind writes it, and its figures."""
        return {
            "step": self.step,
            "view": self.view,
            "symmetry": self.symmetry,
            "output": kind.to_text(self.answer),
            "changed": None if self.changed is None else self.changed_cells,
            "confidence": round(float(self.confidence.mean()), 6) if self.confidence.size else 0.0,
            "q_halt_prob": round(self.q_halt_prob, 6),
            "last": self.last,
            **({"caption": self.caption} if self.caption else {}),
        }


@dataclass
class Recording:
    """One puzzle's refinement: its frames, the last of them the reported answer, and how that answer checked."""

    puzzle: Puzzle
    frames: list[Frame]
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

    def picture(self, frame: Frame) -> Picture:
        return self.kind.picture(self.puzzle, frame.answer)

    def headline(self, frame: Frame, *, words: bool = False) -> tuple[str, str]:
        """A frame's two lines of text: where it is (step, view), then its figures, or on the last frame the
        verdict. `words`: the verdict mark as a word ("SOLVED" for ✓), for fonts without the marks."""
        from trmsolve.render import verdict_style, view_name

        where = frame.caption or f"step {frame.step}/{frame.max_steps} · {view_name(frame.view, frame.symmetry)}"
        if not frame.last:
            changed = "first answer" if frame.changed is None else f"{frame.changed_cells} cells changed"
            return where, f"Q-halt {frame.q_halt_prob:.2f} · {changed}"
        mark, _ = verdict_style(self.verdict)
        problems = f" ({'; '.join(self.verdict.problems)})" if self.verdict.valid and self.verdict.problems else ""
        said = "checked" if mark == "✓" and words else self.verdict.summary  # not "SOLVED solved"
        return where, f"{MARK_WORDS[mark] if words else mark} {said}{problems}"


class Recorder:
    """Keeps every `Step` a solve shows, by puzzle; `then` also gets each step (the live `--trace`)."""

    def __init__(self, then: Callable[[Step], None] | None = None) -> None:
        self.then = then
        self.frames: dict[int, list[Frame]] = {}  # by id of the puzzle

    def __call__(self, step: Step) -> None:
        frame = Frame(step.step, step.max_steps, step.view, step.symmetry, step.answer, step.changed,
                      step.confidence, step.q_halt_prob, step.last, step.caption)  # fmt: skip
        self.frames.setdefault(id(step.puzzle), []).append(frame)
        if self.then is not None:
            self.then(step)

    def take(self, puzzle: Puzzle, verdict: Verdict, **fields: Any) -> Recording:
        """The recording of `puzzle`, whose steps have all come, ending on the answer reported (an ARC input's
        plain run ends before the vote's answer: only the last frame is the reported one)."""
        frames = self.frames.pop(id(puzzle), [])
        for frame in frames[:-1]:
            frame.last = False
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

"""ARC-AGI tasks: read task files, map test inputs to the published 900-token canvas, check and show grids.

Two file forms are read:
- a single task, `{"train": [{"input", "output"}...], "test": [{"input"[, "output"]}...]}`, task id = the
  file's stem;
- the Kaggle "combined" challenges file, task id -> task; when it is named `<prefix>_challenges.json` and
  `<prefix>_solutions.json` sits beside it, the solutions (task id -> list of test outputs) give the
  answers. The solutions file itself yields nothing when its challenges file is there (so a directory of
  both reads each task once) and is an error on its own.

Each test input is one puzzle; its answer is the solutions file's output, else the test entry's "output".
Tokens, transforms and the decoding crop live in `trmsolve.kinds.arc_grids`, shared with the data set builder.

ARC has no rules to check: "valid" means the answer is a well-formed grid (2-D, 1..30 per side, colours
0..9), and "correct" compares it with the known output. `to_text` writes a grid as rows of digits joined
by newlines, the densest form that still reads as a grid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds.arc_grids import SEQ_LEN, VOCAB_SIZE, grid_from_json, grid_problem, grid_to_tokens, tokens_to_grid
from trmsolve.kinds.base import Picture, Puzzle, PuzzleKind, Verdict

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.style import Style
    from rich.text import Text

CHALLENGES_SUFFIX = "_challenges.json"
SOLUTIONS_SUFFIX = "_solutions.json"

# The standard ARC palette (as the ARC-AGI web viewer shows it), colour index -> RGB.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0x00, 0x00, 0x00),  # 0 black
    (0x00, 0x74, 0xD9),  # 1 blue
    (0xFF, 0x41, 0x36),  # 2 red
    (0x2E, 0xCC, 0x40),  # 3 green
    (0xFF, 0xDC, 0x00),  # 4 yellow
    (0xAA, 0xAA, 0xAA),  # 5 grey
    (0xF0, 0x12, 0xBE),  # 6 magenta
    (0xFF, 0x85, 0x1B),  # 7 orange
    (0x7F, 0xDB, 0xFF),  # 8 azure
    (0x87, 0x0C, 0x25),  # 9 maroon
)
CHANGED_MARK = "*"  # follows a cell's digit when it changed since the last step, so plain text shows it too
MIN_BRIGHTNESS = 0.3  # brightness of a cell at confidence 0


class Arc(PuzzleKind):
    """ARC-AGI tasks on the published 30x30 canvas (tokens: 0 PAD, 1 EOS, colour + 2)."""

    name: ClassVar[str] = "arc"
    extensions: ClassVar[tuple[str, ...]] = (".json",)
    seq_len: ClassVar[int] = SEQ_LEN
    vocab_size: ClassVar[int] = VOCAB_SIZE
    tokens: ClassVar[str] = "0 PAD, 1 end-of-grid, 2..11 colours 0..9; 30x30 canvas, grid at the top-left"
    default_model: ClassVar[str] = "arc-demo"
    puzzle_emb_lr: ClassVar[float] = 1e-2
    palette: ClassVar[tuple[tuple[str, str], ...]] = tuple((f"#{r:02x}{g:02x}{b:02x}",) * 2 for r, g, b in PALETTE)

    def parse(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        """One puzzle per test input of every task in the file; a bad task or test entry yields an error."""
        data = _load_json(text, source)
        if not isinstance(data, dict):
            raise PuzzleParseError("not an ARC task file: expected a JSON object", source)
        path = Path(source)
        if isinstance(data.get("test"), list):
            yield from _parse_task(path.stem, data, None, source, None)
            return
        if path.name.endswith(SOLUTIONS_SUFFIX):
            if path.with_name(path.name[: -len(SOLUTIONS_SUFFIX)] + CHALLENGES_SUFFIX).is_file():
                return  # read along with its challenges file
            raise PuzzleParseError(f"an ARC solutions file; give its *{CHALLENGES_SUFFIX} file instead", source)
        solutions_path = (
            path.with_name(path.name[: -len(CHALLENGES_SUFFIX)] + SOLUTIONS_SUFFIX)
            if path.name.endswith(CHALLENGES_SUFFIX)
            else None
        )
        solutions: dict[str, Any] = {}
        if solutions_path is not None and solutions_path.is_file():
            solutions = _load_json(solutions_path.read_text(encoding="utf-8"), str(solutions_path))
            if not isinstance(solutions, dict):
                raise PuzzleParseError("not an ARC solutions file: expected a JSON object", str(solutions_path))
        for task_id, task in data.items():
            yield from _parse_task(task_id, task, solutions.get(task_id), source, solutions_path)

    def encode(self, puzzle: Puzzle) -> np.ndarray:
        """The test input at the top-left of the canvas, as the published test split holds it."""
        return grid_to_tokens(puzzle.grid).astype(np.int64)

    def decode(self, tokens: np.ndarray, puzzle: Puzzle) -> np.ndarray:
        """The largest top-left rectangle of colour tokens (may be 0x0 when the model drew none)."""
        return tokens_to_grid(tokens)

    def verify(self, puzzle: Puzzle, answer: np.ndarray) -> Verdict:
        """ARC has no rules: valid = a well-formed grid; correct = equals the known output (None: unknown)."""
        answer = np.asarray(answer)
        problem = grid_problem(answer)
        known = puzzle.answer
        correct = None if known is None else problem is None and bool(np.array_equal(answer, known))
        details: dict[str, Any] = {"shape": list(answer.shape)}
        if known is not None and problem is None and answer.shape == known.shape:
            details["wrong_cells"] = int(np.count_nonzero(answer != known))
        return Verdict(
            valid=problem is None,
            correct=correct,
            problems=[problem] if problem else [],
            details=details,
            checked=known is not None,
        )

    def render(
        self,
        puzzle: Puzzle,
        answer: np.ndarray | None = None,
        *,
        changed: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> RenderableType:
        """The input beside the answer as palette-coloured cells that still show their digit without colour.

        `changed` cells get a "*" after the digit and bold; low `confidence` darkens a cell. Both are
        ignored when their shape differs from the answer's (the answer's size can change between steps).
        """
        from rich.table import Table
        from rich.text import Text

        columns = [(f"input {puzzle.grid.shape[0]}x{puzzle.grid.shape[1]}", grid_text(puzzle.grid))]
        if answer is not None:
            answer = np.asarray(answer)
            problem = grid_problem(answer)
            if problem:
                body = Text(f"({problem})")
            else:
                body = grid_text(
                    answer,
                    changed if changed is not None and changed.shape == answer.shape else None,
                    confidence if confidence is not None and confidence.shape == answer.shape else None,
                )
            shape = "" if problem else f" {answer.shape[0]}x{answer.shape[1]}"
            columns += [("", Text("->")), (f"answer{shape}", body)]
        table = Table.grid(padding=(0, 2))
        table.add_row(*(Text(title, style="bold") for title, _ in columns))
        table.add_row(*(body for _, body in columns))
        return table

    def picture(self, puzzle: Puzzle, answer: np.ndarray | None = None) -> Picture:
        """The answer (else the input) in the ARC palette; a malformed answer as an empty picture."""
        shown = puzzle.grid if answer is None else np.asarray(answer)
        if grid_problem(shown):
            shown = np.zeros((0, 0), np.int64)
        return Picture(shown.astype(np.int64), np.full(shown.shape, ""))

    def to_text(self, grid: np.ndarray) -> str:
        """Rows of digits joined by newlines, e.g. "012\\n340"."""
        return "\n".join("".join(str(int(colour)) for colour in row) for row in grid)


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise PuzzleParseError(f"not valid JSON ({e.msg})", source, e.lineno) from None


def _pairs(task: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The task's training pairs as grids (ValueError names the bad one)."""
    train = task.get("train")
    if not isinstance(train, list):
        raise ValueError("no 'train' list")
    pairs = []
    for index, pair in enumerate(train):
        if not isinstance(pair, dict) or "input" not in pair or "output" not in pair:
            raise ValueError(f"train example {index} needs an 'input' and an 'output'")
        try:
            pairs.append((grid_from_json(pair["input"]), grid_from_json(pair["output"])))
        except ValueError as e:
            raise ValueError(f"train example {index}: {e}") from None
    return pairs


def _parse_task(
    task_id: str, task: Any, solutions: Any, source: str, solutions_path: Path | None
) -> Iterator[Puzzle | PuzzleParseError]:
    """The puzzles of one task; errors name the task (and test entry) in one line."""
    try:
        if not isinstance(task, dict) or not isinstance(task.get("test"), list) or not task["test"]:
            raise ValueError("not an ARC task: expected 'train' and a non-empty 'test' list")
        train = _pairs(task)
    except ValueError as e:
        yield PuzzleParseError(f"task {task_id}: {e}", source)
        return
    if solutions is not None and not isinstance(solutions, list):
        yield PuzzleParseError(f"task {task_id}: its entry in {solutions_path} is not a list of grids", source)
        return
    for index, entry in enumerate(task["test"]):
        try:
            if not isinstance(entry, dict) or "input" not in entry:
                raise ValueError("needs an 'input'")
            grid = grid_from_json(entry["input"])
            if solutions is not None and index < len(solutions):
                try:
                    answer = grid_from_json(solutions[index])
                except ValueError as e:
                    raise ValueError(f"solution in {solutions_path}: {e}") from None
            else:
                answer = grid_from_json(entry["output"]) if "output" in entry else None
        except ValueError as e:
            yield PuzzleParseError(f"task {task_id}, test {index}: {e}", source)
            continue
        yield Puzzle(
            kind=Arc.name,
            source=f"{source}#{task_id}/{index}",
            grid=grid,
            answer=answer,
            meta={"task_id": task_id, "test_index": index, "train": train},
        )


def _cell_style(colour: int, brightness: float, changed: bool) -> Style:
    """A cell's background in its palette colour (darkened by `brightness`) with a readable digit on it."""
    from rich.color import Color
    from rich.style import Style

    r, g, b = (round(channel * brightness) for channel in PALETTE[colour])
    light = 0.299 * r + 0.587 * g + 0.114 * b > 128
    return Style(
        color=Color.from_rgb(0, 0, 0) if light else Color.from_rgb(255, 255, 255),
        bgcolor=Color.from_rgb(r, g, b),
        bold=changed,
    )


def grid_text(grid: np.ndarray, changed: np.ndarray | None = None, confidence: np.ndarray | None = None) -> Text:
    """The grid as rows of two-character cells: the digit, then the changed mark or a space, coloured as the
    ARC palette (also used on its own, for attempts beside a task's input)."""
    from rich.text import Text

    text = Text()
    for r, row in enumerate(grid):
        if r:
            text.append("\n")
        for c, colour in enumerate(row):
            is_changed = changed is not None and bool(changed[r, c])
            level = 1.0 if confidence is None else float(np.clip(confidence[r, c], 0.0, 1.0))
            brightness = MIN_BRIGHTNESS + (1 - MIN_BRIGHTNESS) * level
            text.append(
                f"{colour}{CHANGED_MARK if is_changed else ' '}",
                style=_cell_style(int(colour), brightness, is_changed),
            )
    return text

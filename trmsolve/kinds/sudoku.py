"""Sudoku: the file layouts people use, tokens, rule checks and a Rich grid (the exact solver: `sudoku_exact`).

Tokens follow the published Sudoku-Extreme encoding: 81 cells row-major, token = digit + 1 (1 = blank),
0 = PAD, vocabulary 11.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds.base import IDENTITY, Picture, Puzzle, PuzzleKind, Symmetry, Verdict
from trmsolve.kinds.sudoku_exact import _PEER_MATRIX, CELL_VALUE, UNITS, solve

if TYPE_CHECKING:
    from rich.text import Text

# ---------------------------------------------------------------------------------------------- parsing

BLANKS_HINT = "blanks: 0 . _ * ? x -, or spaces in a 9-column grid"
_CELL_RUN = re.compile(r"[0-9._*?xX-]+")
_LETTER = re.compile(r"[A-WYZa-wyz]")  # x is a blank, not a letter of a header
_SEPARATOR = re.compile(r"^[-+=|:\s]*$")  # "------+-------+------", "=====", "|"
_FIXED_ROW = re.compile(r"^[0-9 ._*?xX-]{1,9}$")  # a grid row with spaces as blanks: "53  7    "
_COMMENT = re.compile(r"#|//")
# CSV header names for the puzzle and its answer, as published data sets spell them.
_QUESTION_COLUMNS = ("question", "puzzle", "quizzes", "quiz", "puzzles")
_ANSWER_COLUMNS = ("answer", "solution", "solutions")
_DIGIT_CHARS = frozenset("123456789")
_INLINE = re.compile(r"^[0-9._*?xX-]{81}$")  # one puzzle as an argument: 81 cells, no spaces
_LOW_CONFIDENCE = 0.5  # cells the model is less sure of than this are dimmed in --trace
_GIVEN, _FILLED, _BLANK, _BAD = range(4)  # Sudoku.palette


def _grid_of(cells: str) -> np.ndarray:
    return np.array([CELL_VALUE[ch] for ch in cells], dtype=np.int64).reshape(9, 9)


def _cells_problem(text: str, what: str, allowed: Collection[str]) -> str | None:
    """Why `text` is not an 81-cell `what` made of `allowed` characters (None when it is)."""
    bad = next((ch for ch in text if ch not in allowed), None)
    if bad is not None:
        return f"{what}: unexpected character {bad!r}"
    if len(text) != 81:
        return f"{what}: expected 81 cells, found {len(text)}"
    return None


class _GridCollector:
    """Rows of a 9-line grid as they arrive; a bad row spoils its grid without causing more errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.start = 0
        self.rows: list[str | None] = []

    def add(self, row: str | None, line: int) -> Puzzle | None:
        """Add a row (None for a bad one); the puzzle once the grid is complete and sound."""
        if not self.rows:
            self.start = line
        self.rows.append(row)
        if len(self.rows) < 9:
            return None
        sound = [r for r in self.rows if r is not None]
        self.rows = []
        return Puzzle("sudoku", f"{self.source}:{self.start}", _grid_of("".join(sound))) if len(sound) == 9 else None

    def flush(self) -> Iterator[PuzzleParseError]:
        """End the current grid (at a header, a one-line puzzle or the end): an error if it stopped short."""
        rows, self.rows = self.rows, []
        if rows and all(r is not None for r in rows):
            yield PuzzleParseError(f"grid has {len(rows)} rows, expected 9", self.source, self.start)


def _is_separator(text: str) -> bool:
    """A line between grid bands; nine dashes alone are a row of blanks, not a separator."""
    return bool(_SEPARATOR.match(text)) and (any(ch in text for ch in "+=|:") or text.count("-") not in (9, 81))


def _parse_lines(lines: list[str], source: str) -> Iterator[Puzzle | PuzzleParseError]:
    """One-line puzzles and 9-line grids, mixed freely, with comments, headers and separator lines."""
    grid = _GridCollector(source)
    for number, raw in enumerate(lines, start=1):
        unstripped = _COMMENT.split(raw, maxsplit=1)[0].rstrip("\r\n")
        text = unstripped.strip()
        if not text or _is_separator(text):
            continue
        runs = _CELL_RUN.findall(text)
        whole = next((r for r in runs if len(r) > 9), None)  # longer than a grid row: a one-line puzzle
        if whole is None and _LETTER.search(text):  # a header such as "Grid 01"
            yield from grid.flush()
            continue
        cells = whole if whole is not None else "".join(runs)
        if not cells:
            continue
        if whole is None and len(cells) < 9 and " " in unstripped and _FIXED_ROW.match(unstripped.rstrip() or " "):
            cells = unstripped.rstrip().ljust(9).replace(" ", "0")  # spaces as blanks; trailing ones stripped
        if whole is None and len(cells) == 9:
            puzzle = grid.add(cells, number)
            if puzzle is not None:
                yield puzzle
        elif whole is not None or len(cells) == 81:
            yield from grid.flush()
            if len(cells) == 81:
                yield Puzzle("sudoku", f"{source}:{number}", _grid_of(cells))
            else:
                yield PuzzleParseError(f"expected 81 cells, found {len(cells)}", source, number)
        else:
            expected = "9 cells in a grid row" if grid.rows else "81 cells or a grid row of 9"
            yield PuzzleParseError(f"expected {expected}, found {len(cells)}", source, number)
            grid.add(None, number)
    yield from grid.flush()


def _csv_header(lines: list[str]) -> tuple[int, list[str]] | None:
    """Index and column names of the header when the first line that is not blank or a comment is the header
    of a puzzle CSV (it names a question or puzzle column)."""
    first = next((i for i, line in enumerate(lines) if line.strip() and not _COMMENT.match(line.lstrip())), None)
    if first is None or "," not in lines[first]:
        return None
    names = [name.strip().lower() for name in next(csv.reader([lines[first]]))]
    return (first, names) if any(name in names for name in _QUESTION_COLUMNS) else None


def _parse_csv(lines: list[str], header: int, names: list[str], source: str) -> Iterator[Puzzle | PuzzleParseError]:
    """Rows of a puzzle CSV such as Sudoku-Extreme's `source,question,answer,rating`."""
    question = next(names.index(n) for n in _QUESTION_COLUMNS if n in names)
    answer = next((names.index(n) for n in _ANSWER_COLUMNS if n in names), None)
    rating = names.index("rating") if "rating" in names else None
    origin = names.index("source") if "source" in names else None
    for number in range(header + 2, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader([line]))
        if len(row) != len(names):
            yield PuzzleParseError(f"expected {len(names)} columns, found {len(row)}", source, number)
            continue
        fields = [f.strip() for f in row]
        problem = _cells_problem(fields[question], "question", CELL_VALUE)
        answer_text = fields[answer] if answer is not None else ""
        if problem is None and answer_text:
            problem = _cells_problem(answer_text, "answer", _DIGIT_CHARS)
        rating_text = fields[rating] if rating is not None else ""
        if problem is None and rating_text and not rating_text.isdigit():
            problem = f"rating: expected a whole number, found {rating_text!r}"
        if problem is not None:
            yield PuzzleParseError(problem, source, number)
            continue
        meta: dict[str, object] = {}
        if rating_text:
            meta["rating"] = int(rating_text)
        if origin is not None and fields[origin]:
            meta["origin"] = fields[origin]
        yield Puzzle(
            "sudoku",
            f"{source}:{number}",
            _grid_of(fields[question]),
            answer=_grid_of(answer_text) if answer_text else None,
            meta=meta,
        )


def _conflicts(grid: np.ndarray) -> tuple[int, np.ndarray]:
    """Pairs of cells with the same digit in a row, column or box, and the 9x9 mask of cells in one.

    0 (blank) never conflicts; a pair sharing both a line and a box counts once.
    """
    values = grid.reshape(81)
    clash = _PEER_MATRIX & (values[:, None] == values[None, :]) & (values > 0)[:, None]
    return int(clash.sum()) // 2, clash.any(axis=1).reshape(9, 9)


def _first_clash(grid: np.ndarray) -> str | None:
    """The first two givens that break the rules, named as r1c1-style cells (None when they do not)."""
    values = grid.reshape(81)
    for unit, name in zip(UNITS, ["row"] * 9 + ["column"] * 9 + ["box"] * 9, strict=True):
        seen: dict[int, int] = {}
        for cell in unit:
            digit = int(values[cell])
            if digit and digit in seen:
                a, b = (f"r{c // 9 + 1}c{c % 9 + 1}" for c in (seen[digit], cell))
                return f"the givens break the rules: {digit} at {a} and at {b} (same {name})"
            seen.setdefault(digit, cell)
    return None


def _line_of(source: str) -> int | None:
    """The line number at the end of a puzzle's "path:line" source."""
    tail = source.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


SYMMETRY_FAMILIES = ("digits", "bands", "stacks", "transpose")  # what the published Sudoku-Extreme builder augments


def _line_order(rng: np.random.Generator) -> np.ndarray:
    """Rows (or columns) reordered as Sudoku allows: the three bands shuffled, and the lines within each."""
    return np.concatenate([band * 3 + rng.permutation(3) for band in rng.permutation(3)])


def _symmetry(rng: np.random.Generator, families: Collection[str]) -> Symmetry:
    """A random validity-preserving transform made of the allowed families."""
    digits = np.concatenate(([0], rng.permutation(9) + 1)) if "digits" in families else np.arange(10)
    rows = _line_order(rng) if "bands" in families else np.arange(9)
    cols = _line_order(rng) if "stacks" in families else np.arange(9)
    transpose = "transpose" in families and bool(rng.integers(2))
    undo_digits, undo_rows, undo_cols = np.argsort(digits), np.argsort(rows), np.argsort(cols)

    def forward(grid: np.ndarray) -> np.ndarray:
        moved = digits[grid][rows][:, cols]
        return moved.T.copy() if transpose else moved

    def cells_back(values: np.ndarray) -> np.ndarray:
        back = values.T if transpose else values
        return back[undo_rows][:, undo_cols]

    def inverse(grid: np.ndarray) -> np.ndarray:
        return undo_digits[np.clip(cells_back(grid), 0, 9)]

    name = f"digits {''.join(map(str, digits[1:]))}, rows {''.join(map(str, rows + 1))}, "
    name += f"columns {''.join(map(str, cols + 1))}" + (", transposed" if transpose else "")
    return Symmetry(name, forward, inverse, cells_back)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


class Sudoku(PuzzleKind):
    """Classic 9x9 Sudoku."""

    name = "sudoku"
    extensions = (".txt", ".sdk", ".csv", ".sudoku")
    seq_len = 81
    vocab_size = 11
    tokens = "0 PAD, 1 blank, 2..10 digits 1..9; row-major 9x9"
    default_model = "sudoku"
    data_module = "trmsolve.data.sudoku"
    model_defaults: ClassVar[dict[str, Any]] = {"mlp_t": True, "pos_encodings": "none", "L_cycles": 6}
    palette: ClassVar[tuple[tuple[str, str], ...]] = (
        ("#ffffff", "#1a1a1a"),  # a given
        ("#ffffff", "#1f5fbf"),  # filled in by the model
        ("#ffffff", "#ffffff"),  # blank
        ("#fde2e2", "#c62828"),  # breaks a rule
    )

    def is_inline(self, text: str) -> bool:
        return bool(_INLINE.match(text))

    def inline_hint(self, text: str) -> str:
        if _CELL_RUN.fullmatch(text.replace(" ", "")) and len(text) >= 9:
            return f" (as a puzzle: {len(text)} characters; a puzzle itself is 81 cells in one argument, blanks 0 or .)"
        return ""

    def parse(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        """Read one-line puzzles, 9-line grids or a puzzle CSV; the layout is recognised, not declared.

        Givens that break the rules are bad input (the clashing cells named), not a puzzle. A file in which
        nothing reads as a puzzle gets one error with the accepted blanks, not one per line."""
        lines = text.lstrip("\ufeff").splitlines()
        header = _csv_header(lines)
        items = _parse_lines(lines, source) if header is None else _parse_csv(lines, *header, source)
        errors: list[PuzzleParseError] = []
        read = 0
        for item in items:
            if isinstance(item, PuzzleParseError):
                if read:
                    yield item
                else:
                    errors.append(item)  # held back until the file shows whether it holds any puzzle
                continue
            if read == 0:
                yield from errors
            read += 1
            clash = _first_clash(item.grid)
            yield item if clash is None else PuzzleParseError(clash, source, _line_of(item.source))
        if not read and len(errors) > 1:
            first = errors[0]
            more = len(errors) - 1
            message = f"no Sudoku read ({BLANKS_HINT}); line {first.line}: {str(first).split(': ', 1)[-1]}"
            yield PuzzleParseError(f"{message} (and {more} more line{'s' * (more != 1)})", source)
        elif not read:
            yield from errors

    def encode(self, puzzle: Puzzle) -> np.ndarray:
        return puzzle.grid.reshape(81).astype(np.int64) + 1

    def decode(self, tokens: np.ndarray, puzzle: Puzzle) -> np.ndarray:
        """Tokens 2..10 are digits 1..9; blank, PAD or anything out of range reads as unfilled (0)."""
        tokens = np.asarray(tokens, dtype=np.int64).reshape(81)
        return np.where((tokens >= 2) & (tokens <= 10), tokens - 1, 0).reshape(9, 9)

    def verify(self, puzzle: Puzzle, answer: np.ndarray) -> Verdict:
        """Every cell 1..9, no digit twice in a row, column or box, and the givens kept."""
        answer = np.asarray(answer)
        correct = None if puzzle.answer is None else bool(np.array_equal(answer, puzzle.answer))
        if answer.shape != (9, 9):
            return Verdict(False, correct, [f"answer has shape {answer.shape}, expected 9x9"])
        filled = (answer >= 1) & (answer <= 9)
        given = puzzle.grid > 0
        given_conflicts, _ = _conflicts(puzzle.grid)
        conflicts, _ = _conflicts(np.where(filled, answer, 0))
        details = {
            "conflicts": conflicts,
            "empty": int((~filled).sum()),
            "changed_givens": int((given & (answer != puzzle.grid)).sum()),
            "given_conflicts": given_conflicts,
        }
        problems = []
        if given_conflicts:
            problems.append(f"the givens already conflict ({_count(given_conflicts, 'conflict')})")
        if conflicts:
            problems.append(_count(conflicts, "conflict"))
        if details["empty"]:
            problems.append(_count(details["empty"], "empty cell"))
        if details["changed_givens"]:
            problems.append(f"changed {_count(details['changed_givens'], 'given')}")
        if problems:
            return Verdict(False, correct, problems, details)
        details["unique"] = solve(puzzle.grid, limit=2).unique  # a valid answer of a puzzle with several
        notes = [] if details["unique"] else ["the puzzle has more than one solution: this is one of them"]
        return Verdict(True, correct, notes, details)

    def accepts(self, puzzle: Puzzle, answer: np.ndarray) -> bool:
        """Every cell filled, no digit twice in a row, column or box, every given kept: a solution."""
        answer = np.asarray(answer)
        if answer.shape != (9, 9) or answer.min() < 1 or answer.max() > 9:
            return False
        given = puzzle.grid > 0
        return bool((answer[given] == puzzle.grid[given]).all()) and _conflicts(answer)[0] == 0

    def symmetries(self, puzzle: Puzzle, count: int, seed: int, allowed: Collection[str] | None) -> list[Symmetry]:
        """The puzzle as given, then `count - 1` random relabellings and line shuffles (see SYMMETRY_FAMILIES)."""
        families = SYMMETRY_FAMILIES if allowed is None else [f for f in SYMMETRY_FAMILIES if f in allowed]
        if not families:
            return [IDENTITY]
        rng = np.random.default_rng(seed)
        return [IDENTITY, *(_symmetry(rng, families) for _ in range(count - 1))]

    def render(
        self,
        puzzle: Puzzle,
        answer: np.ndarray | None = None,
        *,
        changed: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> Text:
        """Givens bold, filled cells cyan, rule breakers red, changed cells reversed, unsure cells dim.

        The box lines and '.' blanks keep the grid readable without colour.
        """
        from rich.text import Text

        shown, given, filled, bad = _cell_states(puzzle, answer)
        text = Text()
        for r in range(9):
            if r in (3, 6):
                text.append("───────┼───────┼───────\n", style="dim")
            for c in range(9):
                if c in (3, 6):
                    text.append(" │", style="dim")
                if not filled[r, c]:
                    style = "dim"
                elif bad[r, c]:
                    style = "bold red"
                else:
                    style = "bold" if given[r, c] else "cyan"
                if changed is not None and changed[r, c]:
                    style += " reverse"
                if confidence is not None and confidence[r, c] < _LOW_CONFIDENCE:
                    style += " dim"
                text.append(" ")
                text.append(str(shown[r, c]) if filled[r, c] else ".", style=style)
            text.append(" \n" if r < 8 else " ")
        return text

    def picture(self, puzzle: Puzzle, answer: np.ndarray | None = None) -> Picture:
        """Givens dark, filled cells blue, rule breakers red on pink (the colours of `render`), boxes outlined."""
        shown, given, filled, bad = _cell_states(puzzle, answer)
        colours = np.select([bad, ~filled, given], [_BAD, _BLANK, _GIVEN], _FILLED)
        labels = np.where(filled, shown.astype(str), "")
        return Picture(colours, labels, block=3)

    def to_text(self, grid: np.ndarray) -> str:
        return "".join(str(d) if 1 <= d <= 9 else "." for d in np.asarray(grid).reshape(81).tolist())


def _cell_states(puzzle: Puzzle, answer: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """The grid shown (the answer, else the puzzle) and which of its cells are givens, filled, and breaking a rule
    (a conflict, or a changed given)."""
    shown = puzzle.grid if answer is None else np.asarray(answer).reshape(9, 9)
    given = puzzle.grid > 0
    filled = (shown >= 1) & (shown <= 9)
    _, bad = _conflicts(np.where(filled, shown, 0))
    bad |= given & (shown != puzzle.grid)
    return shown, given, filled, bad

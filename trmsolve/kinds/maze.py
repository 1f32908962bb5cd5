"""Mazes: walls, one start S and one goal G; the answer marks a shortest path from S to G with 'o'.

Tokens follow the published Maze-Hard data set: a 30x30 canvas = 900 cells, row-major, over the charset
"# SGo" -> ids 1..5 ('#' wall, ' ' open, 'S' start, 'G' goal, 'o' path); 0 = PAD, which we never write.

Grids (`Puzzle.grid`, `Puzzle.answer`, `decode`'s result) are HxW uint8 arrays of those character codes,
so `grid.tobytes()` is the maze's text and a CSV row is one `np.frombuffer` away. A PAD token decodes to
'?', which `verify` reports instead of mistaking it for a maze cell.

Canvas: a maze smaller than 30x30 sits at the top-left of the canvas and every other canvas cell is a
wall, so the model sees a walled-in maze; `decode` crops the maze's own HxW back out (`meta` keeps
height and width for reports). Path cells a model draws outside the maze fall away with that crop.

Text files: '#' wall, ' ' or '.' open, 'S', 'G', and 'o' for path cells. A maze drawn with its path is
read as the question (path cells open) with the drawing as its known answer. Consecutive non-blank lines
form one maze; a blank or whitespace-only line separates mazes, so a row with only open cells must be
written with '.'. Editors strip trailing spaces, which only ever removes open cells written as spaces, so
a row shorter than the maze's widest row is padded with open cells when the maze looks stripped: no row
keeps a trailing space and no cell is written as '.'. Otherwise stripping cannot explain the short row
and it is an error. (A last column that is open in every row leaves no trace after stripping: write it
with '.'.) CSV files (header `source,question,answer,rating`, as Maze-Hard) hold one square grid per row,
row-major; the `source` column goes to `meta["origin"]` and `rating` to `meta["rating"]`.

Rows and columns in messages count from 1, like an editor's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds.arc_grids import dihedral_transform, inverse_dihedral_transform
from trmsolve.kinds.base import IDENTITY, Picture, Puzzle, PuzzleKind, Symmetry, Verdict

if TYPE_CHECKING:
    from rich.console import RenderableType

CHARSET = "# SGo"
CANVAS = 30
WALL, OPEN, START, GOAL, PATH = CHARSET.encode()

CHAR_TO_TOKEN = np.zeros(256, np.int64)  # char code -> token; 0 (PAD) for anything outside the charset
CHAR_TO_TOKEN[list(CHARSET.encode())] = np.arange(1, len(CHARSET) + 1)
TOKEN_TO_CHAR = np.frombuffer(b"?" + CHARSET.encode(), np.uint8)  # PAD decodes to "?"

_TEXT_CHARS = frozenset(CHARSET + ".")
_CODES = np.frombuffer(CHARSET.encode(), np.uint8)
_PALETTE_INDEX = np.full(256, len(CHARSET))  # char code -> Maze.palette index (past CHARSET: an unknown cell)
_PALETTE_INDEX[_CODES] = np.arange(len(CHARSET))
_STEPS = ((-1, 0), (0, -1), (0, 1), (1, 0))


def place_on_canvas(grid: np.ndarray) -> np.ndarray:
    """The 30x30 canvas with `grid` at its top-left and walls everywhere else."""
    canvas = np.full((CANVAS, CANVAS), WALL, np.uint8)
    canvas[: grid.shape[0], : grid.shape[1]] = grid
    return canvas


def bfs(passable: np.ndarray, start: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Steps from `start` to every cell (-1 where unreachable) and the number of shortest paths, capped at 2.

    The one search behind parsing, `verify` and the data generator. Plain Python over a flat, wall-padded
    list beats array wavefronts here: 900 cells, but paths of hundreds of steps.
    """
    h, w = passable.shape
    width = w + 2
    padded = np.zeros((h + 2, width), bool)
    padded[1:-1, 1:-1] = passable
    ok = padded.ravel().tolist()
    dist = [-1] * len(ok)
    ways = [0] * len(ok)
    first = (start[0] + 1) * width + start[1] + 1
    dist[first], ways[first] = 0, 1
    queue = [first]
    for u in queue:  # the list grows while we walk it: a FIFO queue without deque overhead
        du, wu = dist[u] + 1, ways[u]
        for v in (u - width, u - 1, u + 1, u + width):
            if ok[v]:
                if dist[v] < 0:
                    dist[v], ways[v] = du, wu
                    queue.append(v)
                elif dist[v] == du:
                    ways[v] = min(2, ways[v] + wu)
    crop = (slice(1, -1), slice(1, -1))
    return (
        np.array(dist, np.int32).reshape(h + 2, width)[crop],
        np.array(ways, np.uint8).reshape(h + 2, width)[crop],
    )


def trace_back(dist: np.ndarray, goal: tuple[int, int]) -> list[tuple[int, int]]:
    """The cells strictly between start and `goal` on a shortest path, from the start's side.

    Ties go to the first neighbour in the order up, left, right, down, so the result is deterministic.
    """
    h, w = dist.shape
    cells = []
    r, c = goal
    while dist[r, c] > 1:
        r, c = next(
            (r + dr, c + dc)
            for dr, dc in _STEPS
            if 0 <= r + dr < h and 0 <= c + dc < w and dist[r + dr, c + dc] == dist[r, c] - 1
        )
        cells.append((r, c))
    return cells[::-1]


@dataclass(frozen=True)
class ShortestPath:
    length: int  # steps from S to G, i.e. path cells + 1
    cells: list[tuple[int, int]]  # the path cells in order from S (one of the shortest when not unique)
    unique: bool


def _endpoints(grid: np.ndarray) -> tuple[tuple[int, int], tuple[int, int]]:
    """The first S and the first G (parsing makes sure there is exactly one of each)."""
    start, goal = (tuple(int(i) for i in np.argwhere(grid == ch)[0]) for ch in (START, GOAL))
    return start, goal


def shortest_path(grid: np.ndarray) -> ShortestPath | None:
    """A shortest path from S to G in `grid`, or None when G cannot be reached."""
    start, goal = _endpoints(grid)
    dist, ways = bfs(grid != WALL, start)
    if dist[goal] < 0:
        return None
    return ShortestPath(int(dist[goal]), trace_back(dist, goal), bool(ways[goal] == 1))


def _at(cell: tuple[int, int] | np.ndarray) -> str:
    return f"row {int(cell[0]) + 1}, col {int(cell[1]) + 1}"


def _cells(mask: np.ndarray, noun: str) -> str:
    """'1 <noun> at row r, col c' or '<n> <noun>s, first at row r, col c'."""
    cells = np.argwhere(mask)
    if len(cells) == 1:
        return f"1 {noun} at {_at(cells[0])}"
    return f"{len(cells)} {noun}s, first at {_at(cells[0])}"


def _read_rows(rows: list[str], lines: list[int], source: str) -> np.ndarray:
    """The grid of char codes that text rows spell; raises PuzzleParseError at the first bad line."""
    if len(rows) > CANVAS:
        raise PuzzleParseError(
            f"maze is {len(rows)} tall, the model's canvas is {CANVAS}x{CANVAS}", source, lines[CANVAS]
        )
    width = max(map(len, rows))
    for row, line in zip(rows, lines, strict=True):
        bad = set(row) - _TEXT_CHARS
        if bad:
            ch = min(bad, key=row.index)
            raise PuzzleParseError(
                f"unexpected character {ch!r} at col {row.index(ch) + 1} (mazes use # . S G o and spaces)",
                source,
                line,
            )
        if len(row) > CANVAS:
            raise PuzzleParseError(f"maze is {len(row)} wide, the model's canvas is {CANVAS}x{CANVAS}", source, line)
    full = [row for row in rows if len(row) == width]
    walled = set(rows[0]) == set(rows[-1]) == {"#"} and len(rows[0]) == len(rows[-1]) == width
    walled = walled and all(row.endswith("#") for row in full)  # a wall all round: no row lost its end
    stripped = not walled and not any(row.endswith(" ") or "." in row for row in rows)
    for row, line in zip(rows, lines, strict=True):
        if len(row) < width and not stripped:
            why = (
                "a maze walled all round has rows of one width"
                if walled
                else "the file keeps trailing spaces or uses '.', so stripped spaces cannot explain it"
            )
            raise PuzzleParseError(f"row is {len(row)} wide, the other rows {width} ({why})", source, line)
    grid = np.full((len(rows), width), OPEN, np.uint8)
    for i, row in enumerate(rows):
        grid[i, : len(row)] = np.frombuffer(row.replace(".", " ").encode(), np.uint8)
    return grid


DIHEDRAL_NAMES = (
    "as given", "rotated 90 degrees", "rotated 180 degrees", "rotated 270 degrees", "mirrored left-right",
    "mirrored top-bottom", "transposed", "anti-transposed",
)  # fmt: skip


def maze_extent(grid: np.ndarray) -> tuple[int, int]:
    """Rows and columns from the top-left corner that hold the maze: every cell that is not wall, and the wall
    row and column just beyond them where the grid has them (a maze's own border)."""
    cells = np.argwhere(grid != WALL)
    height, width = grid.shape
    return min(int(cells[:, 0].max()) + 2, height), min(int(cells[:, 1].max()) + 2, width)


def _dihedral(k: int, extent: tuple[int, int]) -> Symmetry:
    """Dihedral transform k as the training augmentation applies it (`arc_grids.dihedral_transform`), of the
    maze's own extent, which stays in the top-left corner: a maze on the 30x30 canvas (a CSV row) keeps its
    place, so its views share the maze's canvas crop instead of spreading over the four corners."""
    if k == 0:
        return IDENTITY
    view_extent = dihedral_transform(np.empty(extent), k).shape

    def moved(values: np.ndarray, inverse: bool, fill: float) -> np.ndarray:
        """`values` (a grid, or per-cell numbers) transformed, the extent moved to the top-left corner."""
        transform, (rows, cols) = (inverse_dihedral_transform, view_extent) if inverse else (dihedral_transform, extent)
        out = np.full(transform(values, k).shape, fill, dtype=values.dtype)
        part = transform(values[:rows, :cols], k)
        out[: part.shape[0], : part.shape[1]] = part
        return out

    return Symmetry(
        DIHEDRAL_NAMES[k],
        lambda grid: moved(grid, False, WALL),
        lambda grid: moved(grid, True, WALL),
        lambda values: moved(values, True, 1.0),  # confidence: the walls beyond the maze are certain
    )


def _check_maze(grid: np.ndarray, source: str, lines: list[int]) -> None:
    """Exactly one S and one G, and G reachable from S: otherwise there is nothing to solve."""
    for ch in "SG":
        cells = np.argwhere(grid == ord(ch))
        if len(cells) == 0:
            raise PuzzleParseError(f"no {ch} in maze", source, lines[0])
        if len(cells) > 1:
            where = "; ".join(_at(cell) for cell in cells)
            raise PuzzleParseError(f"{len(cells)} {ch} cells ({where})", source, lines[cells[1][0]])
    if shortest_path(grid) is None:
        raise PuzzleParseError("G cannot be reached from S", source, lines[0])


def _trace(answer: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> tuple[int | None, list[str]]:
    """Follow the 'o' cells from S: the path's length in steps if they form a simple path to G, and problems.

    Simple means every path cell touches exactly two of path, S and G (4-neighbourhood), so a path that
    forks, touches itself or leaves stray cells is not one.
    """
    on = answer == PATH
    h, w = on.shape
    seen = {start}
    prev, cur = None, start
    while True:
        nxt = [(cur[0] + dr, cur[1] + dc) for dr, dc in _STEPS if 0 <= cur[0] + dr < h and 0 <= cur[1] + dc < w]
        nxt = [cell for cell in nxt if cell != prev and (on[cell] or cell in (start, goal))]
        where = "S" if cur == start else _at(cur)
        if len(nxt) > 1 or (nxt and nxt[0] in seen):
            what = "touches itself" if any(cell in seen for cell in nxt) else "forks"
            return None, [f"path {what} at {where}"]
        if not nxt:
            walked = len(seen) - 1
            if not on.any():
                return None, ["no path marked"]
            if walked == 0:
                return None, ["no path cell next to S"]
            return None, [f"path breaks after {walked} cells, at {where}"]
        if nxt[0] == goal:
            break
        prev, cur = cur, nxt[0]
        seen.add(cur)
    stray = on.copy()
    stray[tuple(np.array(sorted(seen)).T)] = False
    problems = [_cells(stray, "stray path cell")] if stray.any() else []
    return len(seen), problems


class Maze(PuzzleKind):
    """Maze-Hard style mazes on a 30x30 canvas (see the module docstring for the formats)."""

    name = "maze"
    extensions = (".txt", ".maze", ".csv")
    seq_len = CANVAS * CANVAS
    vocab_size = len(CHARSET) + 1
    tokens = "0 PAD, 1 '#', 2 ' ', 3 'S', 4 'G', 5 'o'; 30x30 canvas"
    default_model = "maze"
    data_module = "trmsolve.data.maze"
    # `picture`'s colours, in CHARSET order, then a cell the answer must not change (the colours of `render`)
    palette: ClassVar[tuple[tuple[str, str], ...]] = (
        ("#3a3a3a", "#3a3a3a"),  # wall
        ("#ffffff", "#ffffff"),  # open
        ("#1e5bd6", "#ffffff"),  # S
        ("#b02fb0", "#ffffff"),  # G
        ("#2fb84f", "#ffffff"),  # path
        ("#e53935", "#ffffff"),  # changed a wall, S or G, or an unknown cell
    )

    def parse(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        text = text.removeprefix("\ufeff")
        header = text.split("\n", 1)[0].strip().lower().split(",")
        yield from (self._parse_csv(text, source) if "question" in header else self._parse_text(text, source))

    def _parse_text(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        block: list[tuple[int, str]] = []
        for number, line in enumerate([*text.splitlines(), ""], 1):
            if line.strip():
                block.append((number, line))
                continue
            if block:
                lines, rows = (list(x) for x in zip(*block, strict=True))
                block = []
                try:
                    grid = _read_rows(rows, lines, source)
                    question = np.where(grid == PATH, OPEN, grid).astype(np.uint8)
                    _check_maze(question, source, lines)
                except PuzzleParseError as error:
                    yield error
                    continue
                answer = grid if (grid == PATH).any() else None
                yield self._puzzle(question, answer, f"{source}:{lines[0]}")

    def _parse_csv(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        reader = csv.reader(io.StringIO(text))
        columns = {name.strip().lower(): i for i, name in enumerate(next(reader))}
        line = reader.line_num
        for row in reader:
            first, line = line + 1, reader.line_num
            if not row:
                continue
            field = {name: row[i] if i < len(row) else "" for name, i in columns.items()}
            try:
                question = self._csv_grid(field["question"], "question", source, first)
                if (question == PATH).any():
                    raise PuzzleParseError("question has path cells ('o')", source, first)
                _check_maze(question, source, [first] * len(question))
                answer = self._csv_grid(field["answer"], "answer", source, first) if field.get("answer") else None
                if answer is not None and answer.shape != question.shape:
                    raise PuzzleParseError("answer and question differ in size", source, first)
                rating = field.get("rating", "").strip()
                if rating and not rating.lstrip("-").isdigit():
                    raise PuzzleParseError(f"rating {rating!r} is not a whole number", source, first)
            except PuzzleParseError as error:
                yield error
                continue
            meta = {"origin": field["source"]} if field.get("source") else {}
            if rating:
                meta["rating"] = int(rating)
            yield self._puzzle(question, answer, f"{source}:{first}", meta)

    @staticmethod
    def _csv_grid(cells: str, what: str, source: str, line: int) -> np.ndarray:
        """A row-major square grid from one CSV field."""
        side = round(len(cells) ** 0.5)
        if not 0 < side <= CANVAS or side * side != len(cells):
            raise PuzzleParseError(
                f"{what} has {len(cells)} cells; expected a square grid of at most {CANVAS}x{CANVAS}",
                source,
                line,
            )
        rows = [cells[i : i + side] for i in range(0, len(cells), side)]
        return _read_rows(rows, [line] * side, source)

    def _puzzle(self, grid: np.ndarray, answer: np.ndarray | None, source: str, meta: dict | None = None) -> Puzzle:
        height, width = grid.shape
        return Puzzle(self.name, source, grid, answer, {"height": height, "width": width, **(meta or {})})

    def encode(self, puzzle: Puzzle) -> np.ndarray:
        return CHAR_TO_TOKEN[place_on_canvas(puzzle.grid)].ravel()

    def decode(self, tokens: np.ndarray, puzzle: Puzzle) -> np.ndarray:
        height, width = puzzle.grid.shape
        return TOKEN_TO_CHAR[np.asarray(tokens).reshape(CANVAS, CANVAS)[:height, :width]]

    def accepts(self, puzzle: Puzzle, answer: np.ndarray) -> bool:
        """A path of 'o' from S to G through open cells, as short as the shortest: certainly right."""
        verdict = self.verify(puzzle, answer)
        return verdict.valid and verdict.details.get("shortest") is True

    def symmetries(self, puzzle: Puzzle, count: int, seed: int, allowed: Collection[str] | None) -> list[Symmetry]:
        """The eight rotations and reflections, when the model was trained with them (its config lists
        "dihedral"): published Maze-Hard models were not, and lose accuracy on transformed mazes."""
        if not allowed or "dihedral" not in allowed:
            return [IDENTITY]
        order = [0, *(np.random.default_rng(seed).permutation(7) + 1)]
        extent = maze_extent(puzzle.grid)
        return [_dihedral(k, extent) for k in order[:count]]

    def verify(self, puzzle: Puzzle, answer: np.ndarray) -> Verdict:
        """Valid = the answer keeps the maze and marks a simple path of 'o' cells from S to G.

        A valid path that is longer than the shortest stays valid (details["shortest"] is False and the
        problems say so). `correct` (when the answer is known) is the known path, or another path as short: a
        maze that several shortest paths solve has several right answers, and the file can name only one.
        """
        grid = puzzle.grid
        shortest = shortest_path(grid)
        details = {"path_len": None, "shortest_len": shortest.length if shortest else None, "shortest": None}
        correct = None if puzzle.answer is None else bool(np.array_equal(answer, puzzle.answer))
        if answer.shape != grid.shape:
            problem = f"answer is {answer.shape[0]}x{answer.shape[1]}, the maze is {grid.shape[0]}x{grid.shape[1]}"
            return Verdict(False, correct, [problem], details)
        problems = []
        left = (answer != grid) & ~((grid == OPEN) & (answer == PATH))  # cells the answer may not change
        for template, noun, mask in (  # each changed cell is reported once, in the first class it falls in
            ("{cells}", "unreadable cell", ~np.isin(answer, _CODES)),
            ("path crosses {cells}", "wall", (grid == WALL) & (answer == PATH)),
            ("S is gone from {at}", "", grid == START),
            ("G is gone from {at}", "", grid == GOAL),
            ("{cells}", "changed maze cell", left),
        ):
            hit = left & mask
            if hit.any():
                problems.append(template.format(cells=_cells(hit, noun), at=_at(np.argwhere(hit)[0])))
                left &= ~hit
        path_len, path_problems = _trace(answer, *_endpoints(grid))
        problems += path_problems
        valid = not problems
        if valid and shortest is not None:
            details.update(path_len=path_len, shortest=path_len == shortest.length)
            if path_len != shortest.length:
                problems.append(f"not a shortest path: {path_len} steps, the shortest has {shortest.length}")
            elif correct is False:  # another shortest path than the file's
                correct = True
        return Verdict(valid, correct, problems, details)

    def render(
        self,
        puzzle: Puzzle,
        answer: np.ndarray | None = None,
        *,
        changed: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> RenderableType:
        """Two characters per cell so the maze looks square; the glyphs alone tell the cells apart."""
        from rich.style import Style
        from rich.text import Text

        shown, wrong = _cell_states(puzzle, answer)
        cells = {
            WALL: ("██", Style(color="bright_black")),
            OPEN: ("  ", Style()),
            START: ("S ", Style(color="white", bgcolor="blue", bold=True)),
            GOAL: ("G ", Style(color="white", bgcolor="magenta", bold=True)),
            PATH: ("··", Style(color="bright_green", bold=True)),
        }
        text = Text(no_wrap=True)
        for r, row in enumerate(shown):
            for c, code in enumerate(row.tolist()):
                glyph, style = cells.get(code, ("??", Style()))
                if wrong[r, c]:
                    style = Style(color="white", bgcolor="red", bold=True)
                if changed is not None and changed[r, c]:
                    style += Style(bgcolor="yellow", color="yellow" if code == WALL else None)
                if confidence is not None and confidence[r, c] < 0.5:
                    style += Style(dim=True)
                text.append(glyph, style)
            if r < len(shown) - 1:
                text.append("\n")
        return text

    def picture(self, puzzle: Puzzle, answer: np.ndarray | None = None) -> Picture:
        """Walls dark, the path green, S and G labelled; a cell the answer may not change, red."""
        shown, wrong = _cell_states(puzzle, answer)
        colours = np.where(wrong, len(CHARSET), _PALETTE_INDEX[shown])
        labels = np.where(shown == START, "S", np.where(shown == GOAL, "G", ""))
        return Picture(colours, labels)

    def to_text(self, grid: np.ndarray) -> str:
        return "\n".join(row.tobytes().decode("latin-1") for row in grid)


def _cell_states(puzzle: Puzzle, answer: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The grid shown (the answer, else the puzzle) and its cells the answer may not change: anything but an open
    cell turned into path."""
    shown = puzzle.grid if answer is None else answer
    wrong = np.zeros(shown.shape, bool)
    if shown.shape == puzzle.grid.shape:
        wrong = (shown != puzzle.grid) & ~((puzzle.grid == OPEN) & (shown == PATH))
    return shown, wrong

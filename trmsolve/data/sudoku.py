"""Sudoku training data: a generator of unique-solution puzzles, the CSV layout, tokens and augmentation.

The CSV layout is Sudoku-Extreme's (`source,question,answer,rating`, '.' for blanks). Our `rating` is the
number of backtracks of `trmsolve.kinds.sudoku_exact.solve` while proving the solution unique; Sudoku-Extreme's
ratings come from tdoku, whose stronger propagation gives smaller numbers, so re-rate before comparing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from trmsolve.data.csvfile import HEADER
from trmsolve.errors import PuzzleParseError
from trmsolve.kinds.sudoku import SYMMETRY_FAMILIES
from trmsolve.kinds.sudoku_exact import BOXES, _solve_cells

SYMMETRIES = SYMMETRY_FAMILIES  # what `augment` trains with
QUESTION_TOKEN = 1  # input token of the cells the answer decides: the blanks

TIERS = ("no-guess", "search", "hardest")
# Backtracks from which a puzzle counts as "hardest". Ratings depend on the orientation (the solver breaks
# ties between cells in reading order); over 30 random relabellings/permutations each, the famous hardest
# puzzles rated at least 33 (top95 #1, median 142), 42 (AI Escargot, median 62), 69 (Easter Monster),
# 107 (Inkala 2012), 132 (Golden Nugget) and 162 (Platinum Blonde), while none of 1,500 random minimal
# puzzles reached 20 (0.4% reached 15).
HARDEST_BACKTRACKS = 30
DEFAULT_MIX: Mapping[str, float] = {"no-guess": 0.2, "search": 0.4, "hardest": 0.4}
MAX_GIVENS = 45
CLIMB_PATIENCE = 60  # climbing steps without progress before starting over from a new grid
CLIMB_OUTPUTS = 8  # hardest puzzles taken from one climb (they share the solution grid)
CLIMB_DISTANCE = 4  # given positions in which two puzzles from one climb differ at least
FEW_GIVENS = 20  # `generate`'s default bound for its few-givens share
FEWEST_GIVENS = 17  # no Sudoku with fewer givens has a unique solution (McGuire et al., 2012)
FEW_PATIENCE = 1000  # steps of the givens-lowering climb without progress before starting over from a new grid
BACKENDS = ("auto", "numba", "python")

# The exact solver's entry point: (81 digits, limit, (cell, digit) to exclude or None) -> solutions, backtracks,
# guessed. `trmsolve.kinds.sudoku_exact._solve_cells` or its compiled twin.
SolveCells = Callable[[Sequence[int], int, tuple[int, int] | None], tuple[list[list[int]], int, bool]]


class Row(NamedTuple):
    """One CSV row: how the puzzle was made, the puzzle and its answer as 81 chars, and its rating."""

    source: str
    question: str
    answer: str
    rating: int


def tier(rating: int) -> str:
    """The difficulty tier of a unique puzzle from its rating (backtracks of the exhaustive search).

    A unique puzzle that needs a guess always has a backtrack (every wrong branch ends in one), so
    rating 0 is exactly "solvable by propagation alone" and no separate needs-guess flag is required.
    """
    if rating <= 0:
        return "no-guess"
    return "hardest" if rating >= HARDEST_BACKTRACKS else "search"


def tiers(inputs: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """The difficulty tier of each example (`tier` of its rating)."""
    return np.array([tier(int(r)) for r in ratings])


def _groups(symmetric: bool) -> list[tuple[int, ...]]:
    """Cells that are given or blank together: single cells, or pairs under 180° rotation."""
    if symmetric:
        return [(i, 80 - i) for i in range(40)] + [(40,)]
    return [(i,) for i in range(81)]


def _shuffled_lines(rng: random.Random) -> list[int]:
    """A random order of the 9 rows (or columns) that keeps bands (stacks) together."""
    bands = rng.sample(range(3), 3)
    return [3 * b + r for b in bands for r in rng.sample(range(3), 3)]


def _givens(cells: list[int]) -> int:
    return sum(1 for d in cells if d)


@dataclass
class _Maker:
    """Makes the puzzles of one `generate` call (see there for the options).

    Every random draw goes through `rng` in a fixed order, so the rows depend only on the arguments (and
    not on the solver, which gives the same results compiled or not).
    """

    rng: random.Random
    solve: SolveCells
    symmetric: float
    minimal: float
    max_givens: int
    few_share: float
    few_givens: int

    def random_solution(self) -> list[int]:
        """A random solved grid: three random diagonal boxes completed by the solver, then shuffled."""
        rng = self.rng
        cells = [0] * 81
        for box in (BOXES[0], BOXES[4], BOXES[8]):
            for cell, digit in zip(box, rng.sample(range(1, 10), 9), strict=True):
                cells[cell] = digit
        grid = self.solve(cells, 1, None)[0][0]
        if rng.random() < 0.5:
            grid = [grid[c * 9 + r] for r in range(9) for c in range(9)]
        rows, cols = _shuffled_lines(rng), _shuffled_lines(rng)
        return [grid[r * 9 + c] for r in rows for c in cols]

    def has_other_solution(self, cells: list[int], group: tuple[int, ...], solution: list[int]) -> bool:
        """Whether blanking `group` lets a second solution in (`cells` had only `solution` before).

        Any other solution must differ from `solution` inside the group, so it is enough to search once per
        cell with that cell's digit forbidden.
        """
        return any(self.solve(cells, 1, (cell, solution[cell]))[0] for cell in group)

    def dig(self, cells: list[int], solution: list[int], groups: list[tuple[int, ...]]) -> None:
        """Blank the given groups in random order wherever the solution stays unique (in place): the result
        is minimal for this grouping."""
        order = [g for g in groups if cells[g[0]]]
        self.rng.shuffle(order)
        for group in order:
            for cell in group:
                cells[cell] = 0
            if self.has_other_solution(cells, group, solution):
                for cell in group:
                    cells[cell] = solution[cell]

    def rating(self, cells: list[int]) -> int:
        """Backtracks of the exhaustive search of a puzzle known to be unique."""
        return self.solve(cells, 2, None)[1]

    def restore_uniqueness(self, cells: list[int], solution: list[int], owner: Mapping[int, tuple[int, ...]]) -> None:
        """Add givens (in place) where a second solution disagrees with `solution`, until none is left."""
        while True:
            found = self.solve(cells, 2, None)[0]
            if len(found) < 2:
                return
            other = found[0] if found[0] != solution else found[1]
            cell = self.rng.choice([c for c in range(81) if other[c] != solution[c]])
            for c in owner[cell]:
                cells[c] = solution[c]

    def neighbour(self, cells: list[int], solution: list[int], groups: list[tuple[int, ...]]) -> list[int]:
        """A nearby minimal puzzle with the same solution, the hill-climbs' step: a random given swapped for
        a random blank, givens added back until the solution is unique, then dug minimal again."""
        trial = cells[:]
        for cell in self.rng.choice([g for g in groups if trial[g[0]]]):
            trial[cell] = 0
        for cell in self.rng.choice([g for g in groups if not trial[g[0]]]):
            trial[cell] = solution[cell]
        self.restore_uniqueness(trial, solution, {cell: group for group in groups for cell in group})
        self.dig(trial, solution, groups)
        return trial

    def climb(
        self, cells: list[int], solution: list[int], groups: list[tuple[int, ...]], cap: int
    ) -> list[tuple[list[int], int]]:
        """Hill-climb on the rating from a minimal puzzle to up to CLIMB_OUTPUTS distinct "hardest" ones (with
        their ratings), none with more than `cap` givens.

        A step (`neighbour`) to at most `cap` givens is kept when the rating does not drop (or stays in the
        hardest tier, which lets the walk collect neighbours). Puzzles kept differ in at least CLIMB_DISTANCE
        given positions. Gives up after CLIMB_PATIENCE steps without progress.
        """
        rating = self.rating(cells)
        found: list[tuple[list[int], int]] = []
        layouts: list[int] = []  # given positions of the puzzles found, as 81-bit masks
        idle = 0
        while idle < CLIMB_PATIENCE and len(found) < CLIMB_OUTPUTS:
            trial = self.neighbour(cells, solution, groups)
            if _givens(trial) > cap:  # refused, no progress; never at MAX_GIVENS (no minimal puzzle has 41+)
                idle += 1
                continue
            new = self.rating(trial)
            idle = 0 if new > rating else idle + 1
            layout = sum(1 << cell for cell, digit in enumerate(trial) if digit)
            if new >= HARDEST_BACKTRACKS and all((layout ^ kept).bit_count() >= CLIMB_DISTANCE for kept in layouts):
                found.append((trial, new))
                layouts.append(layout)
                idle = 0
            if new >= min(rating, HARDEST_BACKTRACKS):
                cells, rating = trial, new
        return found

    def thin(self, cells: list[int], solution: list[int], groups: list[tuple[int, ...]]) -> bool:
        """Lower the givens of a minimal puzzle (in place) to at most `few_givens`: digging alone mostly stops
        at 22-27, so hill-climb on the count of givens, keeping steps (`neighbour`) that do not add any.

        False when FEW_PATIENCE steps in a row bring no fewer givens (this grid is then given up).
        """
        count, idle = _givens(cells), 0
        while count > self.few_givens:
            if idle == FEW_PATIENCE:
                return False
            trial = self.neighbour(cells, solution, groups)
            new = _givens(trial)
            idle = 0 if new < count else idle + 1
            if new <= count:
                cells[:], count = trial, new
        return True

    def pad(
        self, cells: list[int], rating: int, solution: list[int], groups: list[tuple[int, ...]], goal: int
    ) -> tuple[int, bool]:
        """Add givens (in place) in random order up to `goal` givens, each only if the tier stays the same.

        Returns the new rating and whether any given was added (the puzzle is then no longer minimal).
        """
        wanted = tier(rating)
        count = _givens(cells)
        blanks = [g for g in groups if not cells[g[0]]]
        self.rng.shuffle(blanks)
        added = False
        for group in blanks:
            if count + len(group) > goal:
                continue
            for cell in group:
                cells[cell] = solution[cell]
            new = self.rating(cells)
            if tier(new) == wanted:
                rating, count, added = new, count + len(group), True
            else:
                for cell in group:
                    cells[cell] = 0
        return rating, added

    def make(self, target: str) -> list[Row]:
        """Puzzles of one tier from one random solution grid (several for "hardest", from one climb)."""
        rng = self.rng
        few = self.few_share > 0 and rng.random() < self.few_share  # no draw by default: the rows stay the same
        symmetric_layout = target != "hardest" and not few and rng.random() < self.symmetric
        groups = _groups(symmetric_layout)
        cap = self.few_givens if few else self.max_givens
        while True:
            solution = self.random_solution()
            cells = solution[:]
            self.dig(cells, solution, groups)
            if few and not self.thin(cells, solution, groups):
                continue
            if target == "hardest":
                puzzles = self.climb(cells, solution, groups, cap)
            else:
                rating = self.rating(cells)
                puzzles = [(cells, rating)] if tier(rating) == target else []
            if puzzles:
                break
        answer = "".join(map(str, solution))
        rows = []
        for puzzle, rating in puzzles:
            padded = False
            if rng.random() >= self.minimal:
                goal = rng.randint(min(_givens(puzzle) + 1, cap), cap)
                rating, padded = self.pad(puzzle, rating, solution, groups, goal)
            source = "gen-" + ("sym" if symmetric_layout else "rand") + ("" if padded else "-min")
            source += ("-few" if few else "") + ("-climb" if target == "hardest" else "")
            question = "".join(str(d) if d else "." for d in puzzle)
            rows.append(Row(source, question, answer, rating))
        return rows


def solver(backend: str = "auto") -> SolveCells:
    """The exact solver the generator uses: "numba" (compiled, ~30x faster), "python" (the reference in
    `trmsolve.kinds.sudoku`) or "auto" (numba when it is installed). Both give the same results."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "python":
        return _solve_cells
    try:
        from trmsolve.kinds.sudoku_jit import solve_cells
    except ImportError as exc:  # numba missing, or too old/new for this numpy
        if backend == "numba":
            raise ValueError(f"the numba backend is not available ({exc}); pip install 'trmsolve[fast]'") from None
        return _solve_cells
    return solve_cells


def generate(
    n: int,
    seed: int,
    *,
    mix: Mapping[str, float] = DEFAULT_MIX,
    symmetric: float = 0.3,
    minimal: float = 0.5,
    max_givens: int = MAX_GIVENS,
    few_share: float = 0.0,
    few_givens: int = FEW_GIVENS,
    backend: str = "auto",
) -> Iterator[Row]:
    """`n` puzzles with a unique solution, made as they are iterated: the same ones for the same arguments
    (a longer run starts with the rows of a shorter one), whichever `backend` (see `solver`) runs the exact
    solver.

    `mix` weighs the tiers (see `tier`); rows follow it exactly, each tier taking its turn when it is
    furthest behind its share. `symmetric` is the share of no-guess and search puzzles whose givens are
    symmetric under 180° rotation (a symmetric "hardest" puzzle takes ~20x longer to find, so that tier is
    asymmetric). `minimal` is the share left minimal; the others get extra givens, up to `max_givens`,
    as long as their tier stays the same. A `few_share` of the puzzles (of every tier; asymmetric, as
    symmetric layouts took ~100x longer to reach 20) are hill-climbed down to at most `few_givens` givens,
    most landing on exactly that many (padding stays within it too). The source column says how a row was
    made: "gen-rand" or "gen-sym", then "-min" when no given (for gen-sym: no symmetric pair) can be
    removed, "-few" when its givens were lowered, "-climb" when hill-climbed on the rating.
    """
    unknown = set(mix) - set(TIERS)
    if unknown or not any(w > 0 for w in mix.values()) or any(w < 0 for w in mix.values()):
        raise ValueError(f"mix must weigh the tiers {', '.join(TIERS)} with non-negative weights, got {dict(mix)}")
    if not 0.0 <= few_share <= 1.0:
        raise ValueError(f"few_share must lie within 0..1, got {few_share}")
    if few_share > 0 and not FEWEST_GIVENS <= few_givens <= max_givens:
        raise ValueError(f"few_givens must lie within {FEWEST_GIVENS}..{max_givens}, got {few_givens}")
    total_weight = sum(mix.values())
    share = {t: mix.get(t, 0.0) / total_weight for t in TIERS}
    maker = _Maker(random.Random(seed), solver(backend), symmetric, minimal, max_givens, few_share, few_givens)
    return _rows(n, share, maker)


def _rows(n: int, share: Mapping[str, float], maker: _Maker) -> Iterator[Row]:
    """`generate`'s rows, made as they are asked for (so bad arguments fail at the call, not at the first row)."""
    made = dict.fromkeys(TIERS, 0)
    pending: dict[str, list[Row]] = {t: [] for t in TIERS}  # the rest of a climb's puzzles, for later turns
    for count in range(n):
        target = max(TIERS, key=lambda t: share[t] * (count + 1) - made[t])
        if not pending[target]:
            pending[target] = maker.make(target)
        made[target] += 1
        yield pending[target].pop(0)


_TOKEN_OF_BYTE = np.full(256, 255, dtype=np.uint8)  # 255 = not a cell character
_TOKEN_OF_BYTE[[ord("."), ord("0")]] = 1
_TOKEN_OF_BYTE[[ord(str(d)) for d in range(1, 10)]] = np.arange(2, 11, dtype=np.uint8)
_MAX_RATING_DIGITS = 18  # fits int64


def load_tokens(csv_path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, labels (int64 [N, 81]) and ratings (int64 [N]) of a `source,question,answer,rating` CSV.

    Works on the raw bytes with array operations, so a million rows take seconds. The fields are found
    from the end of each line, so a source holding commas is fine.
    """
    path = str(csv_path)
    data = np.fromfile(path, dtype=np.uint8)
    header = ",".join(HEADER).encode()
    if data[: len(header)].tobytes() != header:
        raise PuzzleParseError(f"expected the header {header.decode()!r}", path, 1)
    if data[-1] != ord("\n"):
        data = np.append(data, np.uint8(ord("\n")))
    ends = np.flatnonzero(data == ord("\n"))
    starts = np.concatenate(([0], ends[:-1] + 1))
    stops = ends - (data[ends - 1] == ord("\r"))  # end of the content, before any CR
    line_numbers = np.arange(1, len(ends) + 1)
    rows = (stops > starts) & (line_numbers > 1)  # skip the header and blank lines
    starts, stops, line_numbers = starts[rows], stops[rows], line_numbers[rows]

    commas = np.flatnonzero(data == ord(","))  # the header's come first, so every line has 3 before it
    last3 = commas[np.searchsorted(commas, stops)[:, None] + np.arange(-3, 0)]  # [N, 3]
    rating_width = stops - last3[:, 2] - 1
    well_formed = (
        (last3[:, 0] >= starts)
        & (last3[:, 1] - last3[:, 0] == 82)
        & (last3[:, 2] - last3[:, 1] == 82)
        & (rating_width >= 1)
        & (rating_width <= _MAX_RATING_DIGITS)
    )
    _raise_at_first(~well_formed, line_numbers, path, "expected source,question,answer,rating with 81-cell grids")

    cells = np.arange(81)
    inputs = _TOKEN_OF_BYTE[data[last3[:, :1] + 1 + cells]]
    labels = _TOKEN_OF_BYTE[data[last3[:, 1:2] + 1 + cells]]
    _raise_at_first((inputs == 255).any(axis=1), line_numbers, path, "question: expected 81 of 1-9, '.' or '0'")
    _raise_at_first(((labels < 2) | (labels == 255)).any(axis=1), line_numbers, path, "answer: expected 81 of 1-9")

    width = int(rating_width.max(initial=1))
    positions = np.arange(width)
    digits = data[stops[:, None] - width + positions].astype(np.int64) - ord("0")  # the line's last bytes
    digits[positions < width - rating_width[:, None]] = 0  # bytes before the rating field
    _raise_at_first(((digits < 0) | (digits > 9)).any(axis=1), line_numbers, path, "rating: expected a whole number")
    ratings = digits @ (10 ** np.arange(width - 1, -1, -1, dtype=np.int64))
    return inputs.astype(np.int64), labels.astype(np.int64), ratings


def _raise_at_first(bad: np.ndarray, line_numbers: np.ndarray, path: str, message: str) -> None:
    """The error for the first bad row, naming its line."""
    if bad.any():
        raise PuzzleParseError(message, path, int(line_numbers[np.argmax(bad)]))


def _line_orders(rng: np.random.Generator, n: int) -> np.ndarray:
    """[n, 9] random orders of rows (or columns) that keep bands (stacks) together."""
    bands = rng.permuted(np.tile(np.arange(3), (n, 1)), axis=1)
    within = rng.permuted(np.tile(np.arange(3), (n, 3, 1)), axis=2)
    return (bands[:, :, None] * 3 + within).reshape(n, 9)


def augment(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The same random Sudoku symmetry applied to each example's input and label, a new one per example.

    Digits are relabelled; bands, rows within bands, stacks and columns within stacks are permuted; the
    grid is transposed with probability 0.5. These map solutions to solutions, so labels stay right.
    PAD (0) and blank (1) tokens stay as they are.
    """
    n = inputs.shape[0]
    relabel = np.empty((n, 11), dtype=np.int64)
    relabel[:, :2] = (0, 1)
    relabel[:, 2:] = rng.permuted(np.tile(np.arange(2, 11), (n, 1)), axis=1)
    rows, cols = _line_orders(rng, n), _line_orders(rng, n)
    source = rows[:, :, None] * 9 + cols[:, None, :]  # [n, 9, 9]: where each output cell comes from
    transpose = rng.random(n) < 0.5
    source = np.where(transpose[:, None, None], source.transpose(0, 2, 1), source).reshape(n, 81)

    def apply(tokens: np.ndarray) -> np.ndarray:
        return np.take_along_axis(relabel, np.take_along_axis(np.asarray(tokens, dtype=np.int64), source, 1), 1)

    return apply(inputs), apply(labels)

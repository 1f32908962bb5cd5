"""The exact Sudoku solver: the checker behind ratings, the generator and the tests (`sudoku_jit` compiles it).

It works on candidate bitmasks (bit d-1 = digit d): naked and hidden singles to a fixpoint, then a guess on a
cell with the fewest candidates. Its count of dead ends is the puzzle's rating.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BLANK_CHARS = "0._*?xX-"  # what people write for an empty cell; a space too, in a fixed-width 9-column grid
CELL_VALUE = {ch: 0 for ch in BLANK_CHARS} | {str(d): d for d in range(1, 10)}

ROWS = tuple(tuple(r * 9 + c for c in range(9)) for r in range(9))
COLS = tuple(tuple(r * 9 + c for r in range(9)) for c in range(9))
BOXES = tuple(tuple((br + r) * 9 + bc + c for r in range(3) for c in range(3)) for br in (0, 3, 6) for bc in (0, 3, 6))
UNITS = ROWS + COLS + BOXES
PEERS = tuple(tuple(sorted({p for u in UNITS if i in u for p in u} - {i})) for i in range(81))

_PEER_MATRIX = np.zeros((81, 81), dtype=bool)  # [i, j]: cells i and j share a row, column or box
_PEER_MATRIX[np.repeat(np.arange(81), 20), np.array(PEERS).reshape(-1)] = True  # every cell has 20 peers

_ALL = 0x1FF  # all nine candidates
_POPCOUNT = tuple(bin(m).count("1") for m in range(512))
_DIGIT = {1 << d: d + 1 for d in range(9)}


# ---------------------------------------------------------------------------------------------- solver


@dataclass(frozen=True)
class SolveResult:
    """What the exact solver found.

    `backtracks` counts the guesses that led to a contradiction while searching up to `limit` solutions:
    with limit >= 2 on a puzzle with one solution the whole search tree is explored, so the count does not
    depend on the order in which digits are tried (it does on the grid's orientation, as ties between
    cells go to the first in reading order), and it is 0 exactly when singles alone solve the puzzle.
    """

    solutions: tuple[np.ndarray, ...]  # 9x9 int grids, at most `limit`
    backtracks: int
    guessed: bool  # the search had to branch at least once

    @property
    def unique(self) -> bool:
        """Exactly one solution (meaningful when searched with limit >= 2)."""
        return len(self.solutions) == 1


def _propagate(cand: list[int], queue: list[int]) -> bool:
    """Apply naked and hidden singles to a fixpoint, in place; False on a contradiction.

    `queue` holds cells that became single-candidate and whose digit is not yet removed from their peers.
    """
    peers = PEERS
    while True:
        while queue:
            cell = queue.pop()
            bit = cand[cell]
            for p in peers[cell]:
                m = cand[p]
                if m & bit:
                    m ^= bit
                    if not m:
                        return False
                    cand[p] = m
                    if not m & (m - 1):
                        queue.append(p)
        for unit in UNITS:
            once = twice = 0
            for c in unit:
                m = cand[c]
                twice |= once & m
                once |= m
            if once != _ALL:
                return False
            only = once & ~twice
            if only:
                for c in unit:
                    m = cand[c]
                    if m & only and m & (m - 1):
                        m &= only
                        if m & (m - 1):  # two digits that each fit only here
                            return False
                        cand[c] = m
                        queue.append(c)
        if not queue:
            return True


def _candidates(cells: Sequence[int], exclude: tuple[int, int] | None = None) -> list[int] | None:
    """Propagated candidate masks of a puzzle given as 81 digits (0 = blank); None if it contradicts itself.

    `exclude` = (cell, digit) forbids one digit in one blank cell: the generator asks "is there a solution
    other than the known one" this way, which is much cheaper than counting solutions.
    """
    cand = [_ALL] * 81
    queue = [i for i, d in enumerate(cells) if d]
    for i in queue:
        cand[i] = 1 << (cells[i] - 1)
    if exclude is not None:
        cell, digit = exclude
        cand[cell] = _ALL & ~(1 << (digit - 1))
    return cand if _propagate(cand, queue) else None


def _search(cand: list[int], limit: int, found: list[list[int]], stats: list[int]) -> None:
    """Depth-first search on a propagated state, collecting up to `limit` solutions into `found`.

    stats = [backtracks, guesses]. The cell with the fewest candidates is branched on (MRV).
    """
    best, best_n = -1, 10
    for i in range(81):
        m = cand[i]
        if m & (m - 1):
            n = _POPCOUNT[m]
            if n < best_n:
                best, best_n = i, n
                if n == 2:
                    break
    if best < 0:
        found.append(cand)
        return
    m = cand[best]
    while m:
        bit = m & -m
        m ^= bit
        child = cand[:]
        child[best] = bit
        stats[1] += 1
        if _propagate(child, [best]):
            _search(child, limit, found, stats)
            if len(found) >= limit:
                return
        else:
            stats[0] += 1


def _solve_cells(
    cells: Sequence[int], limit: int = 2, exclude: tuple[int, int] | None = None
) -> tuple[list[list[int]], int, bool]:
    """Solutions (as 81-digit lists), backtracks and whether guessing was needed, for 81 digits.

    `exclude` as in `_candidates`. `trmsolve.kinds.sudoku_jit.solve_cells` is a compiled twin.
    """
    cand = _candidates(cells, exclude)
    if cand is None:
        return [], 0, False
    found: list[list[int]] = []
    stats = [0, 0]
    _search(cand, limit, found, stats)
    return [[_DIGIT[m] for m in sol] for sol in found], stats[0], stats[1] > 0


def solve(grid: np.ndarray | Sequence[int] | str, limit: int = 2) -> SolveResult:
    """Solve exactly, stopping after `limit` solutions (2 tells unique from ambiguous).

    `grid` is a 9x9 or 81-long array of digits (0 = blank) or an 81-char string ('.' or '0' = blank).
    Conflicting givens give no solutions rather than an error.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    cells = _cells(grid)
    sols, backtracks, guessed = _solve_cells(cells, limit)
    return SolveResult(
        solutions=tuple(np.array(s, dtype=np.int64).reshape(9, 9) for s in sols),
        backtracks=backtracks,
        guessed=guessed,
    )


def _cells(grid: np.ndarray | Sequence[int] | str) -> list[int]:
    """81 ints 0..9 from any of the grid forms `solve` accepts."""
    if isinstance(grid, str):
        text = grid.strip()
        if len(text) != 81 or any(ch not in CELL_VALUE for ch in text):
            raise ValueError(f"expected 81 cells of '1'-'9', '0' or '.', got {grid!r}")
        return [CELL_VALUE[ch] for ch in text]
    cells = np.asarray(grid).reshape(-1)
    if cells.size != 81 or cells.min() < 0 or cells.max() > 9:
        raise ValueError("expected 81 digits 0..9")
    return [int(d) for d in cells]

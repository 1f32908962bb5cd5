"""The exact Sudoku solver of `trmsolve.kinds.sudoku_exact`, compiled with numba for the puzzle generator.

The generator spends nearly all its time in the solver (tens of thousands of searches per "hardest"
puzzle), and pure Python does ~80 µs per propagation. This is a step-by-step translation of `_propagate`,
`_candidates`, `_search` and `_solve_cells` there, which stay the readable reference: the same queue order,
unit order, branching cell and digit order, so solutions come in the same order with the same backtrack
counts and the generator's rows are identical with either solver. The recursion becomes an explicit stack.

Importing this module imports numba (an optional dependency: `pip install trmsolve[fast]`); the first call
compiles, or loads the compiled code cached next to this file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

from trmsolve.kinds.sudoku_exact import _ALL, _POPCOUNT, PEERS, UNITS

# Module-level arrays are frozen into the compiled code as constants.
_PEER_TABLE = np.array(PEERS, dtype=np.int64)  # [81, 20]
_UNIT_TABLE = np.array(UNITS, dtype=np.int64)  # [27, 9]
_POPCOUNT_TABLE = np.array(_POPCOUNT, dtype=np.int64)  # [512]
_DIGIT_TABLE = np.zeros(512, dtype=np.int64)  # single-candidate mask -> its digit
_DIGIT_TABLE[1 << np.arange(9)] = np.arange(1, 10)
_QUEUE_SIZE = 162  # a cell enters the queue as a given, then at most once more (when it becomes single)


@numba.njit(cache=True)
def _propagate(cand: np.ndarray, queue: np.ndarray, top: int) -> bool:
    """Naked and hidden singles to a fixpoint, in place; `queue[:top]` is the stack of new singles."""
    while True:
        while top:
            top -= 1
            cell = queue[top]
            bit = cand[cell]
            for k in range(20):
                p = _PEER_TABLE[cell, k]
                m = cand[p]
                if m & bit:
                    m ^= bit
                    if not m:
                        return False
                    cand[p] = m
                    if not m & (m - 1):
                        queue[top] = p
                        top += 1
        for u in range(27):
            once = 0
            twice = 0
            for k in range(9):
                m = cand[_UNIT_TABLE[u, k]]
                twice |= once & m
                once |= m
            if once != _ALL:
                return False
            only = once & ~twice
            if only:
                for k in range(9):
                    c = _UNIT_TABLE[u, k]
                    m = cand[c]
                    if m & only and m & (m - 1):
                        m &= only
                        if m & (m - 1):
                            return False
                        cand[c] = m
                        queue[top] = c
                        top += 1
        if not top:
            return True


@numba.njit(cache=True)
def _kernel(cells: np.ndarray, limit: int, exclude_cell: int, exclude_digit: int) -> tuple[np.ndarray, int, int, int]:
    """Up to `limit` solutions as digits [limit, 81] (the first `found` rows), found, backtracks, guesses.

    `exclude_cell` < 0 means no excluded digit. Depth-first search with an explicit stack: level d holds
    a state, the cell branched on and the digits (a mask) not tried yet.
    """
    solutions = np.zeros((limit, 81), dtype=np.int64)
    states = np.empty((82, 81), dtype=np.int64)  # each level fixes at least one more cell
    branch_cell = np.empty(82, dtype=np.int64)
    untried = np.zeros(82, dtype=np.int64)
    queue = np.empty(_QUEUE_SIZE, dtype=np.int64)
    found = backtracks = guesses = 0

    cand = states[0]
    top = 0
    for i in range(81):
        if cells[i]:
            cand[i] = 1 << (cells[i] - 1)
            queue[top] = i
            top += 1
        else:
            cand[i] = _ALL
    if exclude_cell >= 0:
        cand[exclude_cell] = _ALL & ~(1 << (exclude_digit - 1))
    if not _propagate(cand, queue, top):
        return solutions, 0, 0, 0

    depth = 0
    entering = True  # at a new state (pick its cell), or back at one whose branch just ended
    while depth >= 0:
        state = states[depth]
        if entering:
            best = -1
            best_n = 10
            for i in range(81):
                m = state[i]
                if m & (m - 1):
                    n = _POPCOUNT_TABLE[m]
                    if n < best_n:
                        best = i
                        best_n = n
                        if n == 2:
                            break
            if best < 0:
                for i in range(81):
                    solutions[found, i] = _DIGIT_TABLE[state[i]]
                found += 1
                if found >= limit:
                    break
                depth -= 1
                entering = False
                continue
            branch_cell[depth] = best
            untried[depth] = state[best]
        m = untried[depth]
        if not m:
            depth -= 1
            entering = False
            continue
        bit = m & -m
        untried[depth] = m ^ bit
        child = states[depth + 1]
        child[:] = state
        child[branch_cell[depth]] = bit
        guesses += 1
        queue[0] = branch_cell[depth]
        if _propagate(child, queue, 1):
            depth += 1
            entering = True
        else:
            backtracks += 1
            entering = False
    return solutions, found, backtracks, guesses


def solve_cells(
    cells: Sequence[int], limit: int = 2, exclude: tuple[int, int] | None = None
) -> tuple[list[list[int]], int, bool]:
    """Drop-in for `trmsolve.kinds.sudoku_exact._solve_cells`: solutions as 81-digit lists, backtracks, guessed."""
    cell, digit = (-1, 0) if exclude is None else exclude
    solutions, found, backtracks, guesses = _kernel(np.asarray(cells, dtype=np.int64), limit, cell, digit)
    return solutions[:found].tolist(), backtracks, guesses > 0

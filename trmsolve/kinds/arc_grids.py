"""ARC-AGI grids as the published models see them: tokens on the 30x30 canvas, the augmentations and their
identifiers. Shared by the ARC puzzle kind, the maze kind (its dihedral transforms), prediction and the builder.

Reproduced exactly from the published builder (SamsungSAILMontreal/TinyRecursiveModels `dataset/build_arc_dataset.py`
with `dataset/common.py`, the same as sapientinc/HRM's) and evaluator (`evaluators/arc.py`); written from reading that
code, not copied:
- Tokens: a grid of h x w goes to the top-left of a 30 x 30 canvas as colour + 2, with a row of EOS (1)
  below it under its columns and a column of EOS right of it beside its rows; the corner stays PAD (0).
  Training examples may be shifted by an offset. Decoding crops the largest top-left rectangle of colour
  tokens (first largest in row order), as the evaluator's `_crop` does; it knows nothing of offsets.
- Dihedral transforms 0..7 (identity, rot90 x1..3, fliplr, flipud, transpose, fliplr(rot90)) and their
  inverses; colour permutations that map colour c to perm[c]; an augmentation recolours, then transforms.
- Identifier names `"<task>|||t<k>|||<perm>"`; the plain task name is the un-augmented task.
- `grid_hash`: SHA-256 hex of the two side lengths as bytes followed by the uint8 cells, row-major.

No torch here: the puzzle kinds import this at start-up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

GRID_SIZE = 30
SEQ_LEN = GRID_SIZE * GRID_SIZE
PAD_TOKEN = 0
EOS_TOKEN = 1
COLOUR_OFFSET = 2  # token of colour c
NUM_COLOURS = 10
VOCAB_SIZE = COLOUR_OFFSET + NUM_COLOURS
ID_SEPARATOR = "|||"
BLANK_IDENTIFIER = "<blank>"  # name of identifier 0 (and of any number below the start)
IDENTITY_PERM: tuple[int, ...] = tuple(range(NUM_COLOURS))

_DIHEDRAL: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    lambda g: g,
    lambda g: np.rot90(g, 1),
    lambda g: np.rot90(g, 2),
    lambda g: np.rot90(g, 3),
    np.fliplr,
    np.flipud,
    np.transpose,
    lambda g: np.fliplr(np.rot90(g, 1)),
)
DIHEDRAL_INVERSE: tuple[int, ...] = (0, 3, 2, 1, 4, 5, 6, 7)  # transform id -> id of its inverse


def dihedral_transform(grid: np.ndarray, trans_id: int) -> np.ndarray:
    """`grid` under dihedral transform `trans_id` (0..7, numbered as published); may be a view."""
    if not 0 <= trans_id < len(_DIHEDRAL):
        raise ValueError(f"dihedral transform id must be 0..7, not {trans_id}")
    return _DIHEDRAL[trans_id](grid)


def inverse_dihedral_transform(grid: np.ndarray, trans_id: int) -> np.ndarray:
    """Undo `dihedral_transform(grid, trans_id)`."""
    if not 0 <= trans_id < len(_DIHEDRAL):
        raise ValueError(f"dihedral transform id must be 0..7, not {trans_id}")
    return _DIHEDRAL[DIHEDRAL_INVERSE[trans_id]](grid)


def apply_colour_permutation(grid: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """`grid` with every colour c replaced by perm[c], as uint8."""
    return np.asarray(perm, dtype=np.uint8)[grid]


def invert_colour_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes `perm`."""
    return tuple(int(c) for c in np.argsort(np.asarray(perm)))


class Augmentation(NamedTuple):
    """One augmented version of a task, as named in `identifiers.json`: (task, k, perm)."""

    task: str
    trans_id: int = 0
    perm: tuple[int, ...] = IDENTITY_PERM

    @property
    def is_identity(self) -> bool:
        return self.trans_id == 0 and self.perm == IDENTITY_PERM

    @property
    def name(self) -> str:
        """The identifier name; the plain task name for the identity (the builder never keeps an augmented
        version equal to the original, so no kept version is named `t0` with the identity permutation)."""
        if self.is_identity:
            return self.task
        digits = "".join(str(c) for c in self.perm)
        return f"{self.task}{ID_SEPARATOR}t{self.trans_id}{ID_SEPARATOR}{digits}"

    def apply(self, grid: np.ndarray) -> np.ndarray:
        """The task's grid as this version shows it (recolour, then transform)."""
        return dihedral_transform(apply_colour_permutation(grid, self.perm), self.trans_id)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """A grid of this version (e.g. a prediction) back in the original task's frame and colours."""
        return apply_colour_permutation(
            inverse_dihedral_transform(grid, self.trans_id), invert_colour_permutation(self.perm)
        )


def parse_identifier(name: str) -> Augmentation:
    """Split an identifier name `"<task>|||t<k>|||<perm>"` (or a plain task name) into its parts."""
    parts = name.split(ID_SEPARATOR)
    if len(parts) == 1:
        return Augmentation(name)
    if len(parts) == 3:
        task, trans, digits = parts
        if (
            task
            and len(trans) == 2
            and trans[0] == "t"
            and trans[1] in "01234567"
            and sorted(digits) == [str(c) for c in IDENTITY_PERM]
        ):
            return Augmentation(task, int(trans[1]), tuple(int(c) for c in digits))
    raise ValueError(f"not an ARC puzzle identifier: {name!r} (expected '<task>|||t<0..7>|||<10 digits>')")


def grid_problem(grid: np.ndarray) -> str | None:
    """Why `grid` is not an ARC grid (2-D, 1..30 per side, integer colours 0..9), or None when it is one."""
    if grid.ndim != 2:
        return f"a grid must be 2-D, not {grid.ndim}-D"
    h, w = grid.shape
    if h == 0 or w == 0:
        return "empty grid"
    if h > GRID_SIZE or w > GRID_SIZE:
        return f"grid of {h}x{w}; each side must be 1..{GRID_SIZE}"
    if grid.dtype.kind not in "iu":
        return "colours must be integers 0..9"
    if grid.min() < 0 or grid.max() >= NUM_COLOURS:
        return "colours must be 0..9"
    return None


def grid_from_json(value: Any) -> np.ndarray:
    """A grid as JSON gives it (a list of rows of colours) as uint8 [h, w]; ValueError says what is wrong."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        raise ValueError("a grid must be a non-empty list of rows")
    if any(len(row) != len(value[0]) for row in value):
        raise ValueError("grid rows differ in length")
    if not all(type(v) is int and 0 <= v < NUM_COLOURS for row in value for v in row):  # bool is no colour
        raise ValueError("colours must be integers 0..9")
    grid = np.array(value, dtype=np.uint8)
    problem = grid_problem(grid)
    if problem:
        raise ValueError(problem)
    return grid


def grid_hash(grid: np.ndarray) -> str:
    """SHA-256 hex of a grid as the published builder and evaluator compute it (used to match grids)."""
    cells = np.ascontiguousarray(grid, dtype=np.uint8)
    return hashlib.sha256(bytes(cells.shape) + cells.tobytes()).hexdigest()


def grid_to_tokens(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The 900 uint8 tokens of `grid` placed at `offset` (row, column) with its EOS row and column."""
    h, w = grid.shape
    r, c = offset
    if r < 0 or c < 0 or r + h > GRID_SIZE or c + w > GRID_SIZE:
        raise ValueError(f"a {h}x{w} grid at offset {offset} does not fit the {GRID_SIZE}x{GRID_SIZE} canvas")
    canvas = np.zeros((GRID_SIZE, GRID_SIZE), dtype=np.uint8)
    canvas[r : r + h, c : c + w] = grid + COLOUR_OFFSET
    if r + h < GRID_SIZE:
        canvas[r + h, c : c + w] = EOS_TOKEN
    if c + w < GRID_SIZE:
        canvas[r : r + h, c + w] = EOS_TOKEN
    return canvas.reshape(-1)


def tokens_to_grid(tokens: np.ndarray) -> np.ndarray:
    """The grid in 900 tokens: the largest top-left rectangle of colour tokens, uint8 (possibly 0x0)."""
    canvas = np.asarray(tokens).reshape(GRID_SIZE, GRID_SIZE)
    is_colour = (canvas >= COLOUR_OFFSET) & (canvas < VOCAB_SIZE)
    # Colour run from the left edge of each row, then the widest rectangle reaching down to each row.
    runs = np.where(is_colour.all(axis=1), GRID_SIZE, np.argmin(is_colour, axis=1))
    widths = np.minimum.accumulate(runs)
    areas = widths * np.arange(1, GRID_SIZE + 1)
    rows = int(np.argmax(areas)) + 1 if areas.max() > 0 else 0
    cols = int(widths[rows - 1]) if rows else 0
    return (canvas[:rows, :cols] - COLOUR_OFFSET).astype(np.uint8)

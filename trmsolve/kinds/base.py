"""The one interface every puzzle kind implements: parse, encode, decode, verify, render (and picture).

Adding a kind means adding one module in this package that defines a `PuzzleKind` subclass and listing it
in `trmsolve.kinds.KINDS`. Nothing here imports torch: parsing and verifying must stay fast to start.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from trmsolve.errors import PuzzleParseError

if TYPE_CHECKING:
    from rich.console import RenderableType


@dataclass
class Puzzle:
    """One puzzle as read from a file, in the kind's native grid form (not tokens)."""

    kind: str
    source: str  # "path:line" for line-based files, "path#index" otherwise, "<stdin>:line" for stdin
    grid: np.ndarray  # sudoku: 9x9 int (0 = blank); maze: HxW uint8 char codes; arc: HxW int colours
    answer: np.ndarray | None = None  # the known solution when the file gives one (used for `correct`)
    meta: dict[str, Any] = field(default_factory=dict)  # kind-specific: rating, task id, canvas offset...


@dataclass
class Verdict:
    """The checked outcome of one answer. `valid` is decided by the rules, never by the model."""

    valid: bool
    correct: bool | None = None  # equals the known answer; None when no answer is known
    problems: list[str] = field(default_factory=list)  # human-readable, e.g. "3 conflicts"
    details: dict[str, Any] = field(default_factory=dict)  # e.g. {"shortest": True, "path_len": 57}
    checked: bool = True  # False: nothing could tell right from wrong (an ARC answer with no known output)

    @property
    def summary(self) -> str:
        if not self.valid:
            return "; ".join(self.problems) or "invalid"
        if not self.checked:
            return "unchecked: no known answer to check against"
        return "solved" if self.correct in (True, None) else "valid, but differs from the known answer"


def canvas_cells(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per-position values [seq_len] as a grid of `shape`, read from the top-left of the square canvas."""
    side = math.isqrt(values.shape[-1])
    return values.reshape(side, side)[: shape[0], : shape[1]]


@dataclass(frozen=True)
class Symmetry:
    """A transform of a puzzle's grid that maps its solutions one to one onto the transformed puzzle's.

    `forward` maps a puzzle (or answer) grid into the view, `inverse` maps an answer in the view back.
    """

    name: str  # e.g. "as given", "digits 931..., transposed"
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    inverse_cells: Callable[[np.ndarray], np.ndarray] | None = None  # per-cell values (confidence) back; None: inverse

    def cells_back(self, values: np.ndarray) -> np.ndarray:
        """Per-cell values of the view (e.g. confidence) at the puzzle's own cells."""
        return (self.inverse_cells or self.inverse)(values)

    def apply(self, puzzle: Puzzle) -> Puzzle:
        """The puzzle as this view sees it (its known answer too)."""
        answer = None if puzzle.answer is None else self.forward(puzzle.answer)
        return Puzzle(puzzle.kind, puzzle.source, self.forward(puzzle.grid), answer, dict(puzzle.meta))


@dataclass(frozen=True)
class Picture:
    """A grid as coloured, labelled cells: what recordings draw (`trmsolve.recording`), in any image format.

    `PuzzleKind.picture` says what each cell looks like; a GIF, an SVG and a web page draw the same picture.
    """

    colours: np.ndarray  # int [rows, cols]: each cell's index into the kind's `palette`
    labels: np.ndarray  # str [rows, cols]: each cell's character ("" for none)
    block: int = 0  # thicker lines every `block` cells (Sudoku's boxes); 0: none


IDENTITY = Symmetry("as given", lambda grid: grid, lambda grid: grid, lambda values: values)


class PuzzleKind:
    """Base class of the puzzle kinds. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]  # file suffixes picked up when a directory is given
    seq_len: ClassVar[int]
    vocab_size: ClassVar[int]
    tokens: ClassVar[str]  # the token encoding in words, recorded in a model's config.json
    default_model: ClassVar[str]  # the bundled model `trmsolve KIND` solves with
    # Training data: a module of `trmsolve.data` with load_tokens, augment, tiers, SYMMETRIES and QUESTION_TOKEN
    # (None: the kind trains on `trmsolve build-arc` output instead).
    data_module: ClassVar[str | None] = None
    # The published sign-SGD rate of the puzzle embeddings: ARC has one embedding per task, each seen rarely;
    # Sudoku and Maze share one, seen in every batch, and publish the network's own rate for it.
    puzzle_emb_lr: ClassVar[float] = 1e-4
    model_defaults: ClassVar[dict[str, Any]] = {}  # `trmsolve train`'s CPU-sized TRM for the kind, beyond the shared
    # The cell colours of `picture`: (fill, ink) as "#rrggbb", indexed by `Picture.colours`.
    palette: ClassVar[tuple[tuple[str, str], ...]] = (("#ffffff", "#000000"),)

    @property
    def encoding(self) -> dict[str, Any]:
        """The token encoding as a model's config.json records it."""
        return {"seq_len": self.seq_len, "vocab_size": self.vocab_size, "tokens": self.tokens}

    def parse(self, text: str, source: str) -> Iterator[Puzzle | PuzzleParseError]:
        """Read every puzzle in `text` (the contents of file `source`).

        Yields a `PuzzleParseError` (naming source and line) for a bad entry instead of raising, so that a
        batch goes on past it; raises only when the whole file is unreadable.
        """
        raise NotImplementedError

    def encode(self, puzzle: Puzzle) -> np.ndarray:
        """Model input tokens, int64 [seq_len]."""
        raise NotImplementedError

    def decode(self, tokens: np.ndarray, puzzle: Puzzle) -> np.ndarray:
        """The answer grid from predicted tokens [seq_len], in the same form as `puzzle.grid`."""
        raise NotImplementedError

    def verify(self, puzzle: Puzzle, answer: np.ndarray) -> Verdict:
        """Check `answer` against the rules and the puzzle (and `puzzle.answer` when known)."""
        raise NotImplementedError

    def render(
        self,
        puzzle: Puzzle,
        answer: np.ndarray | None = None,
        *,
        changed: np.ndarray | None = None,
        confidence: np.ndarray | None = None,
    ) -> RenderableType:
        """A Rich renderable of the puzzle with `answer` filled in.

        `changed` (bool, grid-shaped) highlights cells that changed since the previous refinement step;
        `confidence` (float 0..1, grid-shaped) dims cells the model is unsure of. Both are for `--trace`.
        """
        raise NotImplementedError

    def picture(self, puzzle: Puzzle, answer: np.ndarray | None = None) -> Picture:
        """`answer` (or the puzzle) as coloured, labelled cells, for recordings: the same cells `render` shows."""
        raise NotImplementedError

    def to_text(self, grid: np.ndarray) -> str:
        """A plain-text form of a grid, as stored in JSON output (e.g. 81 digits for Sudoku)."""
        raise NotImplementedError

    def accepts(self, puzzle: Puzzle, answer: np.ndarray) -> bool | None:
        """Whether `answer` certainly solves `puzzle`, checked without knowing the solution; None when this
        kind cannot tell (then the model's halting head decides when to stop). Verified solving stops a
        puzzle at the first answer accepted here."""
        return None

    def is_inline(self, text: str) -> bool:
        """Whether a command-line argument that names no file is a puzzle itself, as people paste them (Sudoku's
        81 cells); such an argument is parsed with `parse`. False by default."""
        return False

    def inline_hint(self, text: str) -> str:
        """For an argument that names no file and is not a puzzle: how to pass a puzzle itself, when `text` looks
        like an attempt at one ("" otherwise)."""
        return ""

    def symmetries(self, puzzle: Puzzle, count: int, seed: int, allowed: Collection[str] | None) -> list[Symmetry]:
        """`count` views of `puzzle` for retries, the first the puzzle as given; only transform families in
        `allowed` (what the model was trained with; None: the kind's default). One view by default."""
        return [IDENTITY]

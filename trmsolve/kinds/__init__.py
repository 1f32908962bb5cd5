"""Registry of puzzle kinds. Each kind lives in its own module and is imported only when asked for."""

from __future__ import annotations

import importlib

from trmsolve.kinds.base import Picture, Puzzle, PuzzleKind, Verdict

# kind name -> "module:Class"; the only place a new kind has to be listed. What else the engine needs of a kind
# (its token shapes, bundled model, training data and defaults) is an attribute of its class.
KINDS: dict[str, str] = {
    "sudoku": "trmsolve.kinds.sudoku:Sudoku",
    "maze": "trmsolve.kinds.maze:Maze",
    "arc": "trmsolve.kinds.arc:Arc",
}
# The kinds `trmsolve generate` makes and `trmsolve train` reads from CSV: those with a `PuzzleKind.data_module`
# (named here too so the command line lists them without importing every kind).
GENERATED: tuple[str, ...] = ("sudoku", "maze")


def get_kind(name: str) -> PuzzleKind:
    """The kind named `name` (one of `KINDS`)."""
    try:
        module_name, class_name = KINDS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown puzzle kind {name!r} (known: {', '.join(KINDS)})") from None
    return getattr(importlib.import_module(module_name), class_name)()


def all_kinds() -> list[PuzzleKind]:
    """Every kind, in the order of `KINDS`."""
    return [get_kind(name) for name in KINDS]


__all__ = ["GENERATED", "KINDS", "Picture", "Puzzle", "PuzzleKind", "Verdict", "all_kinds", "get_kind"]

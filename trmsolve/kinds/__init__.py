"""Registry of puzzle kinds. Each kind lives in its own module and is imported only when asked for."""

from __future__ import annotations

import importlib

from trmsolve.kinds.base import Puzzle, PuzzleKind, Verdict

# kind name -> "module:Class"; the only place a new kind has to be listed.
KINDS: dict[str, str] = {
    "sudoku": "trmsolve.kinds.sudoku:Sudoku",
    "maze": "trmsolve.kinds.maze:Maze",
    "arc": "trmsolve.kinds.arc:Arc",
}


def get_kind(name: str) -> PuzzleKind:
    """The kind named `name` (one of `KINDS`)."""
    try:
        module_name, class_name = KINDS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown puzzle kind {name!r} (known: {', '.join(KINDS)})") from None
    return getattr(importlib.import_module(module_name), class_name)()


__all__ = ["KINDS", "Puzzle", "PuzzleKind", "Verdict", "get_kind"]

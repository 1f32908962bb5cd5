"""trmsolve: solve puzzles with tiny recursive reasoning models (TRM, HRM).

The public API is imported lazily, so `import trmsolve` (and `trmsolve --help`) stays fast: torch is
loaded only when a model is.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_model": "trmsolve.models",
    "save_model": "trmsolve.checkpoint",
    "convert": "trmsolve.checkpoint",
    "refine": "trmsolve.inference",
    "StepRecord": "trmsolve.inference",
    "solve": "trmsolve.solver",
    "read_inputs": "trmsolve.solver",
    "encode": "trmsolve.solver",
    "Result": "trmsolve.solver",
    "Summary": "trmsolve.solver",
    "get_kind": "trmsolve.kinds",
    "Puzzle": "trmsolve.kinds",
    "SolveOptions": "trmsolve.options",
    "record": "trmsolve.recording",
    "Recording": "trmsolve.recording",
    "RecursiveReasoningModel": "trmsolve.network",
    "ModelConfig": "trmsolve.config",
    "TrmsolveError": "trmsolve.errors",
    "PuzzleParseError": "trmsolve.errors",
}

__all__ = [*_API, "__version__"]


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'trmsolve' has no attribute {name!r}")

"""How puzzles are run, as one value from the command line to the solver (importing it never imports torch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trmsolve.kinds.base import PuzzleKind

if TYPE_CHECKING:
    from trmsolve.network import RecursiveReasoningModel

DEFAULT_BATCH_SIZE = 64
DEFAULT_VIEWS = 8  # chosen from the measured accuracy/compute curve (docs/verified.md)
# A view runs up to twice the steps its model trained with, and at least this many: 32 for the 16-step Sudoku
# and published models (docs/verified.md). A model's config may set its own measured budget (`view_steps`): the
# bundled maze model (trained with 32) draws long paths past its 64th step and says 128 (weights/maze/README.md,
# "Results").
DEFAULT_STEPS_PER_VIEW = 32
# The command line's --time-limit: a puzzle that no view has solved in a minute of compute is answered (as failing,
# with what was tried) rather than left running its whole view budget (a hard 30x30 maze: 48 views x 128 steps).
DEFAULT_TIME_LIMIT = 60.0


@dataclass
class SolveOptions:
    """How puzzles are run: the published rule (`verify=False`, or `halt=False` for every step) or verified."""

    max_steps: int | None = None  # per view; default when verifying: the model's view_steps, else twice the
    # checkpoint's and at least DEFAULT_STEPS_PER_VIEW; else the checkpoint's
    halt: bool = True  # False: every puzzle runs max_steps steps (the published all-steps evaluation)
    halt_threshold: float | None = None  # the Q head's halting probability (published rule only)
    verify: bool = True  # verified solving where the kind can check answers; False: the Q head alone
    views: int | None = None  # most views per puzzle when verifying; default the model's, else DEFAULT_VIEWS
    batch_size: int = DEFAULT_BATCH_SIZE  # puzzles run together (their views share the batch)
    seed: int = 0  # of the symmetric views (each puzzle's also depends on its grid, never on its batch)
    # Seconds of compute a puzzle may take (its rows' share of each batch step; for a puzzle alone, its wall time):
    # then it settles on the surest answer its views have so far, checked as always, and says what it tried.
    # None: no limit (a view budget still ends every puzzle).
    time_limit: float | None = None

    def verified(self, kind: PuzzleKind) -> bool:
        """Whether verified solving applies: asked for, halting allowed, and the kind can check answers."""
        return self.verify and self.halt and type(kind).accepts is not PuzzleKind.accepts

    def steps_for(self, model: RecursiveReasoningModel, kind: PuzzleKind) -> int:
        if self.max_steps:
            return self.max_steps
        trained = model.info.default_steps or model.config.halt_max_steps
        if not self.verified(kind):
            return trained
        return model.info.view_steps or max(2 * trained, DEFAULT_STEPS_PER_VIEW)

    def views_for(self, model: RecursiveReasoningModel, kind: PuzzleKind) -> int:
        """Most views a puzzle takes: the option, else the model's measured budget (`views`), else DEFAULT_VIEWS."""
        if not self.verified(kind):
            return 1
        return self.views or model.info.views or DEFAULT_VIEWS

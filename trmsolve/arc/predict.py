"""Prediction and the published vote: every view of a test input runs, identical grids are grouped and ranked
by how many runs gave them, then by their mean sigmoid(q_halt); the top K are the K attempts. Written from
reading the published evaluator (`evaluators/arc.py`), not copied."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.arc.views import View, spread, task_views
from trmsolve.errors import TrmsolveError
from trmsolve.kinds.arc import Arc
from trmsolve.kinds.arc_grids import Augmentation, grid_hash, grid_problem, grid_to_tokens, tokens_to_grid

if TYPE_CHECKING:
    from trmsolve.kinds import Puzzle
    from trmsolve.network import RecursiveReasoningModel

_text = Arc().to_text  # grids as JSON output writes them


# ----------------------------------------------------------------------------------------------- voting


@dataclass
class Candidate:
    """One distinct answer grid for a test input and the runs that gave it."""

    grid: np.ndarray
    votes: int
    q_halt_prob: float  # mean sigmoid(q_halt) over those runs


def vote(runs: Iterable[tuple[np.ndarray, float]]) -> list[Candidate]:
    """Group identical grids of (grid, sigmoid(q_halt)) runs and rank them by votes, then mean halting
    probability. Ties keep the order of first appearance (the published evaluator's stable sort)."""
    groups: dict[str, list[Any]] = {}
    for grid, q in runs:
        entry = groups.setdefault(grid_hash(grid), [grid, 0, 0.0])
        entry[1] += 1
        entry[2] += q
    ranked = sorted(groups.values(), key=lambda e: (e[1], e[2] / e[1]), reverse=True)
    return [Candidate(grid, votes, total / votes) for grid, votes, total in ranked]


@dataclass
class ArcAnswer:
    """The voted answers for one test input."""

    puzzle: Puzzle
    candidates: list[Candidate]  # best first
    known: bool  # the model has identifiers for the task, or none at all (False: it ran the blank identifier)

    @property
    def task_id(self) -> str:
        return str(self.puzzle.meta["task_id"])

    @property
    def test_index(self) -> int:
        return int(self.puzzle.meta["test_index"])

    @property
    def runs(self) -> int:
        return sum(c.votes for c in self.candidates)

    def attempts(self, k: int) -> list[np.ndarray]:
        """The top `k` grids, padded with the first when fewer distinct grids came out (as published)."""
        grids = [c.grid for c in self.candidates[:k]]
        return grids + [grids[0]] * (k - len(grids))

    def rank_of_answer(self) -> int | None:
        """1-based rank of the known answer among the candidates; 0 when absent, None when unknown."""
        if self.puzzle.answer is None:
            return None
        expected = grid_hash(self.puzzle.answer)
        return next((i + 1 for i, c in enumerate(self.candidates) if grid_hash(c.grid) == expected), 0)

    def passes(self, k: int) -> bool | None:
        """The known answer is among the top `k` (None: no known answer)."""
        rank = self.rank_of_answer()
        return None if rank is None else 0 < rank <= k

    def to_dict(self, attempts: int, model: str) -> dict[str, Any]:
        """The `--json` object of `trmsolve arc` (schema in docs/arc.md)."""
        top = self.candidates[:attempts]
        return {
            "source": self.puzzle.source,
            "kind": "arc",
            "task_id": self.task_id,
            "test_index": self.test_index,
            "input": _text(self.puzzle.grid),
            "output": _text(self.candidates[0].grid),
            "attempts": [_text(grid) for grid in self.attempts(attempts)],
            "expected": None if self.puzzle.answer is None else _text(self.puzzle.answer),
            "valid": grid_problem(self.candidates[0].grid) is None,
            "correct": self.passes(attempts),
            "checked": self.puzzle.answer is not None,
            "rank": self.rank_of_answer(),
            "votes": [c.votes for c in top],
            "q_halt_prob": [round(c.q_halt_prob, 6) for c in top],
            "runs": self.runs,
            "known": self.known,
            "model": model,
        }


def predict(
    model: RecursiveReasoningModel,
    puzzles: Sequence[Puzzle],
    *,
    max_views: int | None = None,
    max_steps: int | None = None,
    halt: bool = False,
    halt_threshold: float | None = None,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> list[ArcAnswer]:
    """Voted answers for ARC test inputs (puzzles of the ARC kind), one per puzzle, in order.

    Every view the model knows for a puzzle's task (`max_views` of them, see `spread`) runs on the input
    augmented that way; runs of all puzzles are batched together. `halt=False` runs every step and votes
    with the last step's q_halt, as the published evaluation does. `progress(done, total)` counts runs.
    """
    import torch

    from trmsolve.inference import final, refine
    from trmsolve.kinds import get_kind
    from trmsolve.solver import check_model

    check_model(model, get_kind("arc"))
    if batch_size < 1:
        raise TrmsolveError(f"batch size must be at least 1, not {batch_size}")
    views = task_views(model.identifiers)
    jobs: list[tuple[int, View]] = []
    for index, puzzle in enumerate(puzzles):
        task = str(puzzle.meta["task_id"])
        jobs += [(index, view) for view in spread(views.get(task, [View(0, Augmentation(task))]), max_views)]
    runs: list[list[tuple[np.ndarray, float]]] = [[] for _ in puzzles]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        tokens = np.stack([grid_to_tokens(view.augmentation.apply(puzzles[i].grid)) for i, view in chunk])
        ids = np.array([view.identifier for _, view in chunk], dtype=np.int64)
        record = final(refine(model, tokens, ids, max_steps=max_steps, halt=halt, halt_threshold=halt_threshold))
        predictions = record.predictions.cpu().numpy()
        q_halt = torch.sigmoid(record.q_halt_logits.double()).cpu().numpy()
        for (i, view), prediction, q in zip(chunk, predictions, q_halt, strict=True):
            runs[i].append((view.augmentation.invert(tokens_to_grid(prediction)), float(q)))
        if progress is not None:
            progress(start + len(chunk), len(jobs))
    embeds = model.config.puzzle_emb_ndim > 0  # without per-task embeddings every task is run the same way
    return [
        ArcAnswer(puzzle, vote(runs[i]), str(puzzle.meta["task_id"]) in views or not embeds)
        for i, puzzle in enumerate(puzzles)
    ]

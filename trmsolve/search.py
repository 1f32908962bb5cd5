"""Verified solving: stop a puzzle at an answer that checks, spend more steps and symmetric views where none does.

The published evaluation trusts the network alone: the Q head says when to stop and the last answer is
the answer. For a kind whose answers can be checked without knowing the solution (Sudoku: rules and
givens; maze: a shortest path from S to G), trmsolve uses the checker to decide instead:

- every step, each puzzle's current answer is checked; the first one that passes is the answer and the
  puzzle leaves the batch (an easy puzzle costs what it did: its first answer passes);
- a puzzle whose answer still fails after the checkpoint's own step count (16 published) keeps refining
  from its carry, up to `max_steps`, and at that point its other views join the batch: the puzzle under
  transforms that keep its set of solutions and that the model was trained with (kind.symmetries), each
  answer mapped back to the puzzle's own frame before it is checked;
- when no view's answer passes within the budget, the answer is the candidate the model was surest of
  (Q head, then mean confidence), reported as failing: nothing is called solved unless it was checked.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from trmsolve.inference import crop_groups, pass_rows
from trmsolve.kinds.base import Puzzle, PuzzleKind, Symmetry, canvas_cells
from trmsolve.model import Carry, RecursiveReasoningModel
from trmsolve.options import SolveOptions


@dataclass
class Outcome:
    """How one puzzle was settled by verified solving."""

    answer: np.ndarray  # in the puzzle's own frame
    accepted: bool  # the kind's check passed
    view: int  # 0 = the puzzle as given
    symmetry: str
    view_steps: int  # steps the deciding view ran
    total_steps: int  # puzzle-steps spent over all its views
    q_halt_prob: float
    q_halts: bool  # the Q head said stop at the deciding step
    confidence: float  # mean probability of the predicted token over the answer's cells
    seconds: float  # from the start of the batch until the puzzle was settled (its crop group's, in `solve`)


@dataclass
class ViewStep:
    """One step of one view, in the puzzle's own frame: what `--trace` shows."""

    index: int  # the puzzle's position in the batch
    view: int
    symmetry: str
    step: int  # steps this view has run
    answer: np.ndarray
    confidence: np.ndarray  # per cell of the answer
    q_halt_prob: float
    last: bool  # the puzzle is settled after this step


@dataclass
class _Rows:
    """The views running in the batch: one row each."""

    puzzle: list[int] = field(default_factory=list)
    view: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)


def puzzle_seed(puzzle: Puzzle, seed: int) -> int:
    """A puzzle's own seed for its views: the same wherever it sits in a batch."""
    return zlib.crc32(np.ascontiguousarray(puzzle.grid).tobytes()) ^ seed


@dataclass
class _Views:
    """A puzzle's views: the transforms (kind.symmetries), the puzzle under each, and its tokens."""

    symmetries: list[Symmetry]
    framed: list[Puzzle]
    tokens: list[np.ndarray]


@torch.inference_mode()
def solve_verified(
    model: RecursiveReasoningModel,
    kind: PuzzleKind,
    puzzles: Sequence[Puzzle],
    identifiers: Sequence[int],
    options: SolveOptions,
    on_step: Callable[[ViewStep], None] | None = None,
) -> list[Outcome]:
    """Settle every puzzle of a batch by verified solving (see the module's docstring).

    On a model that runs on a canvas crop, puzzles run in groups by the square that holds all their views (a
    rotated maze can reach one row further than the maze as given): a view one row larger would otherwise make
    every puzzle of its batch run one row larger, and a puzzle's answer would depend on its batch mates."""
    started = time.perf_counter()
    allowed = model.info.encoding.get("symmetries")
    views: list[_Views] = []
    for p in puzzles:
        symmetries = kind.symmetries(p, options.views_for(kind), puzzle_seed(p, options.seed), allowed)
        framed = [symmetry.apply(p) for symmetry in symmetries]
        views.append(_Views(symmetries, framed, [kind.encode(v) for v in framed]))
    outcomes: list[Outcome | None] = [None] * len(puzzles)
    for group in crop_groups(model, [np.stack(own.tokens) for own in views]):
        relay = None if on_step is None else lambda step, group=group: on_step(replace(step, index=group[step.index]))
        settled = _settle(model, kind, [puzzles[p] for p in group], [identifiers[p] for p in group],
                          [views[p] for p in group], options, relay, started)  # fmt: skip
        for p, outcome in zip(group, settled, strict=True):
            outcomes[p] = outcome
    return outcomes  # type: ignore[return-value]


def _settle(
    model: RecursiveReasoningModel,
    kind: PuzzleKind,
    puzzles: Sequence[Puzzle],
    identifiers: Sequence[int],
    puzzle_views: Sequence[_Views],
    options: SolveOptions,
    on_step: Callable[[ViewStep], None] | None,
    started: float,
) -> list[Outcome]:
    """Verified solving of puzzles that share one canvas crop, all their views in one batch."""
    device = model.device
    max_steps = options.steps_for(model, kind)
    spawn_at = min(max_steps, model.info.default_steps or model.config.halt_max_steps)
    views = [own.symmetries for own in puzzle_views]
    framed = [own.framed for own in puzzle_views]
    tokens = [own.tokens for own in puzzle_views]
    every = torch.from_numpy(np.stack([t for own in tokens for t in own])).long().to(device)
    positions = model.canvas_positions(every)  # the group's crop: the square that holds each view

    rows = _Rows()
    x = carry = row_tokens = None  # per running row: input embedding, carry, and input tokens (the canvas)
    outcomes: list[Outcome | None] = [None] * len(puzzles)
    spent = [0] * len(puzzles)
    candidates: list[list[Outcome]] = [[] for _ in puzzles]
    shown_view = [0] * len(puzzles)

    def add_rows(pairs: list[tuple[int, int]]) -> None:
        nonlocal x, carry, row_tokens
        inputs = torch.from_numpy(np.stack([tokens[p][v] for p, v in pairs])).long().to(device)
        ids = torch.tensor([identifiers[p] for p, _ in pairs], dtype=torch.long, device=device)
        new_x = model.embed(inputs, ids, positions)
        new_carry = model.initial_carry(len(pairs), positions)
        rows.puzzle += [p for p, _ in pairs]
        rows.view += [v for _, v in pairs]
        rows.steps += [0] * len(pairs)
        if x is None or carry is None or row_tokens is None:
            x, carry, row_tokens = new_x, new_carry, inputs
        else:
            x, row_tokens = torch.cat((x, new_x)), torch.cat((row_tokens, inputs))
            carry = Carry.cat([carry, new_carry])

    add_rows([(p, 0) for p in range(len(puzzles))])
    per_pass = pass_rows(model, positions)
    while rows.puzzle:
        assert x is not None and carry is not None and row_tokens is not None
        out = model.step(carry, x, positions, per_pass)
        confidence, predicted = out.logits.float().softmax(-1).max(-1)
        if positions is None:
            full, full_confidence = predicted, confidence
        else:  # outside the crop the answer is the input (padding), with certainty
            full, full_confidence = row_tokens.clone(), torch.ones(row_tokens.shape, device=device)
            full[:, positions], full_confidence[:, positions] = predicted, confidence
        full_np, confidence_np = full.cpu().numpy(), full_confidence.cpu().numpy()
        q_halt = torch.sigmoid(out.q_halt_logits.float()).cpu().numpy()
        q_halts = model.halts(out.q_halt_logits, out.q_continue_logits).cpu().numpy()
        now = time.perf_counter() - started

        keep, spawn = [], []
        for r, (p, v) in enumerate(zip(rows.puzzle, rows.view, strict=True)):
            if outcomes[p] is not None:
                continue  # settled by another view this step
            rows.steps[r] += 1
            spent[p] += 1
            symmetry = views[p][v]
            answer = symmetry.inverse(kind.decode(full_np[r], framed[p][v]))
            cells = symmetry.cells_back(canvas_cells(confidence_np[r], framed[p][v].grid.shape))
            accepted = bool(kind.accepts(puzzles[p], answer))
            ended = accepted or rows.steps[r] >= max_steps
            outcome = Outcome(
                answer, accepted, v, symmetry.name, rows.steps[r], 0, float(q_halt[r]), bool(q_halts[r]),
                float(cells.mean()) if cells.size else 0.0, now,
            )  # fmt: skip
            if accepted:
                outcomes[p] = outcome
            elif ended:
                candidates[p].append(outcome)
            else:
                keep.append(r)
            if v == 0 and rows.steps[r] == spawn_at and not accepted and len(views[p]) > 1:
                spawn += [(p, other) for other in range(1, len(views[p]))]
            if on_step is not None and v == shown_view[p]:
                settled = accepted or (ended and not any(rows.puzzle[k] == p for k in keep) and not spawn)
                on_step(ViewStep(p, v, symmetry.name, rows.steps[r], answer, cells, float(q_halt[r]), settled))
        keep = [r for r in keep if outcomes[rows.puzzle[r]] is None]  # drop the other views of settled puzzles
        index = torch.tensor(keep, dtype=torch.long, device=device)
        x, carry, row_tokens = x[index], out.carry.select(index), row_tokens[index]
        rows.puzzle, rows.view, rows.steps = ([kept[r] for r in keep] for kept in (rows.puzzle, rows.view, rows.steps))
        if spawn:
            add_rows(spawn)
        lowest: dict[int, int] = {}  # the view shown by --trace: the lowest still running
        for p, v in zip(rows.puzzle, rows.view, strict=True):
            lowest[p] = min(v, lowest.get(p, v))
        for p, v in lowest.items():
            shown_view[p] = v
        for p in set(range(len(puzzles))) - lowest.keys():
            if outcomes[p] is None and candidates[p]:  # every view ran out of steps: the surest candidate
                outcomes[p] = max(candidates[p], key=lambda c: (c.q_halt_prob, c.confidence, -c.view))
    for p, outcome in enumerate(outcomes):
        assert outcome is not None
        outcome.total_steps = spent[p]
    return outcomes  # type: ignore[return-value]

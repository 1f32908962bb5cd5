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
- where the model's card measured that they pay (config "restart_noise"; the bundled maze model), a puzzle
  whose every transform failed takes its remaining views as restarts: the same transforms again, each from
  the initial state plus seeded Gaussian noise, round after round. The network's refinement is chaotic near
  a maze's tipping point (float32 and bfloat16 runs of one view can end apart), so a nudged start is another
  attempt; the checker, not the nudge, decides what counts;
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
    restart: int  # 0 = the view's first run; r = its r-th restart from a perturbed state
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
    symmetry: str  # with ", restart r" for a restart
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
    """A puzzle's views: the transforms (kind.symmetries), the puzzle under each, and its tokens; past the
    `distinct` transforms, up to `count` views in all, restarts of them in rounds (view v restarts transform
    v % distinct)."""

    symmetries: list[Symmetry]
    framed: list[Puzzle]
    tokens: list[np.ndarray]
    count: int  # most views the puzzle takes
    seed: int  # the puzzle's own (puzzle_seed): its restarts' noise derives from it

    @property
    def distinct(self) -> int:
        return len(self.framed)

    def transform(self, view: int) -> int:
        """The transform a view runs (a restart runs one again)."""
        return view % self.distinct

    def restart(self, view: int) -> int:
        return view // self.distinct

    def name(self, view: int) -> str:
        own = self.symmetries[self.transform(view)].name
        return f"{own}, restart {self.restart(view)}" if self.restart(view) else own

    def noise_seed(self, view: int) -> int | None:
        """The seed of a restart's perturbed start; None for a transform's first run."""
        return zlib.crc32(f"{self.seed}:{view}".encode()) if self.restart(view) else None


def _views(model: RecursiveReasoningModel, kind: PuzzleKind, puzzle: Puzzle, options: SolveOptions) -> _Views:
    """A puzzle's views: its distinct transforms, then restarts only where the model's card measured them
    (`restart_noise`)."""
    count, seed = options.views_for(model, kind), puzzle_seed(puzzle, options.seed)
    symmetries = kind.symmetries(puzzle, count, seed, model.info.encoding.get("symmetries"))
    framed = [symmetry.apply(puzzle) for symmetry in symmetries]
    count = count if model.info.restart_noise else len(symmetries)
    return _Views(symmetries, framed, [kind.encode(v) for v in framed], count, seed)


def _perturb(carry: Carry, seeds: Sequence[int | None], scale: float) -> Carry:
    """Rows with a seed start from the initial state plus N(0, scale^2) noise, drawn on the CPU in float32 so that
    a restart is the same on every device and in every batch."""
    for row, seed in enumerate(seeds):
        if seed is None:
            continue
        generator = torch.Generator().manual_seed(seed)
        for z in (carry.z_H, carry.z_L):
            z[row] += (scale * torch.randn(z.shape[1:], generator=generator)).to(z.device, z.dtype)
    return carry


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
    views = [_views(model, kind, p, options) for p in puzzles]
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
    """Verified solving of puzzles that share one canvas crop, all their views in one batch; past its distinct
    transforms a puzzle takes its remaining views as rounds of restarts."""
    device = model.device
    max_steps = options.steps_for(model, kind)
    spawn_at = min(max_steps, model.info.default_steps or model.config.halt_max_steps)
    every = torch.from_numpy(np.stack([t for own in puzzle_views for t in own.tokens])).long().to(device)
    positions = model.canvas_positions(every)  # the group's crop: the square that holds each view

    rows = _Rows()
    x = carry = row_tokens = None  # per running row: input embedding, carry, and input tokens (the canvas)
    outcomes: list[Outcome | None] = [None] * len(puzzles)
    spent = [0] * len(puzzles)
    begun = [0] * len(puzzles)  # views started so far
    candidates: list[list[Outcome]] = [[] for _ in puzzles]
    shown_view = [0] * len(puzzles)

    def add_rows(pairs: list[tuple[int, int]]) -> None:
        nonlocal x, carry, row_tokens
        own = [(puzzle_views[p], v) for p, v in pairs]
        inputs = torch.from_numpy(np.stack([views.tokens[views.transform(v)] for views, v in own])).long().to(device)
        ids = torch.tensor([identifiers[p] for p, _ in pairs], dtype=torch.long, device=device)
        new_x = model.embed(inputs, ids, positions)
        seeds = [views.noise_seed(v) for views, v in own]
        new_carry = _perturb(model.initial_carry(len(pairs), positions), seeds, model.info.restart_noise or 0.0)
        rows.puzzle += [p for p, _ in pairs]
        rows.view += [v for _, v in pairs]
        rows.steps += [0] * len(pairs)
        for p, v in pairs:
            begun[p] = max(begun[p], v + 1)
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
        going_on = [0] * len(puzzles)  # rows of each puzzle with steps left after this one
        for p, done in zip(rows.puzzle, rows.steps, strict=True):
            going_on[p] += done + 1 < max_steps

        keep, spawn = [], []
        for r, (p, v) in enumerate(zip(rows.puzzle, rows.view, strict=True)):
            if outcomes[p] is not None:
                continue  # settled by another view this step
            rows.steps[r] += 1
            spent[p] += 1
            views = puzzle_views[p]
            symmetry, framed = views.symmetries[views.transform(v)], views.framed[views.transform(v)]
            answer = symmetry.inverse(kind.decode(full_np[r], framed))
            cells = symmetry.cells_back(canvas_cells(confidence_np[r], framed.grid.shape))
            accepted = bool(kind.accepts(puzzles[p], answer))
            ended = accepted or rows.steps[r] >= max_steps
            outcome = Outcome(
                answer, accepted, v, views.name(v), views.restart(v), rows.steps[r], 0, float(q_halt[r]),
                bool(q_halts[r]), float(cells.mean()) if cells.size else 0.0, now,
            )  # fmt: skip
            if accepted:
                outcomes[p] = outcome
            elif ended:
                candidates[p].append(outcome)
            else:
                keep.append(r)
            if v == 0 and rows.steps[r] == spawn_at and not accepted:
                spawn += [(p, other) for other in range(1, min(views.distinct, views.count))]
            if on_step is not None and v == shown_view[p]:
                more = going_on[p] or begun[p] < views.count or any(q == p for q, _ in spawn)
                settled = accepted or (ended and not more)
                on_step(ViewStep(p, v, views.name(v), rows.steps[r], answer, cells, float(q_halt[r]), settled))
        keep = [r for r in keep if outcomes[rows.puzzle[r]] is None]  # drop the other views of settled puzzles
        index = torch.tensor(keep, dtype=torch.long, device=device)
        x, carry, row_tokens = x[index], out.carry.select(index), row_tokens[index]
        rows.puzzle, rows.view, rows.steps = ([kept[r] for r in keep] for kept in (rows.puzzle, rows.view, rows.steps))
        for p in set(range(len(puzzles))) - set(rows.puzzle) - {q for q, _ in spawn}:
            if outcomes[p] is None and candidates[p]:  # every view begun ran out of steps
                views = puzzle_views[p]
                if begun[p] < views.count:  # the next round of restarts
                    spawn += [(p, v) for v in range(begun[p], min(begun[p] + views.distinct, views.count))]
                else:  # the surest candidate
                    outcomes[p] = max(candidates[p], key=lambda c: (c.q_halt_prob, c.confidence, -c.view))
        if spawn:
            add_rows(spawn)
        lowest: dict[int, int] = {}  # the view shown by --trace: the lowest still running
        for p, v in zip(rows.puzzle, rows.view, strict=True):
            lowest[p] = min(v, lowest.get(p, v))
        for p, v in lowest.items():
            shown_view[p] = v
    for p, outcome in enumerate(outcomes):
        assert outcome is not None
        outcome.total_steps = spent[p]
    return outcomes  # type: ignore[return-value]

"""Running puzzles through the network: a continuous batch, with verified solving where answers can be checked.

The published evaluation trusts the network alone: the Q head says when to stop and the last answer is
the answer (`SolveOptions(verify=False)`; `halt=False` runs every step). For a kind whose answers can be
checked without knowing the solution (Sudoku: rules and givens; maze: a shortest path from S to G),
trmsolve uses the checker to decide instead:

- every step, each puzzle's current answer is checked; the first one that passes is the answer and the
  puzzle leaves the batch (an easy puzzle costs what it did: its first answer passes);
- a puzzle whose answer still fails after the checkpoint's own step count (16 published) keeps refining
  from its carry, up to `max_steps`, and at that point its other views join the batch: the puzzle under
  transforms that keep its set of solutions and that the model was trained with (kind.symmetries), each
  answer mapped back to the puzzle's own frame before it is checked;
- where the model's card measured that they pay (config "restart_noise"; the bundled maze model), a puzzle
  whose every transform failed takes its remaining views as restarts: the same transforms again, each from
  the initial state plus seeded Gaussian noise, round after round. The network's refinement is chaotic near
  a maze's tipping point, so a nudged start is another attempt; the checker, not the nudge, decides;
- when no view's answer passes within the budget, the answer is the candidate the model was surest of
  (Q head, then mean confidence), reported as failing: nothing is called solved unless it was checked. With a
  time limit (`SolveOptions.time_limit`: seconds of compute, a puzzle's share of each batch step, so a puzzle's
  limit does not depend on its batch mates) a puzzle that reaches it settles the same way at once, its running
  views' current answers among the candidates, and says how many views it tried.

The batch is continuous, as LLM inference servers run theirs: a puzzle joins it when there is room and
leaves it the step it settles, so an easy puzzle's answer comes out at once and a hard one never runs alone
while the rest of the input waits. Every row's state depends only on its own puzzle, so an answer does not
depend on its batch mates.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from trmsolve.inference import pass_rows, run_step
from trmsolve.kinds.base import Puzzle, PuzzleKind, Symmetry, canvas_cells
from trmsolve.network import Carry, RecursiveReasoningModel
from trmsolve.options import SolveOptions


@dataclass
class Outcome:
    """How one puzzle was settled."""

    answer: np.ndarray  # in the puzzle's own frame
    cells: np.ndarray  # per-cell confidence of the answer, in the puzzle's own frame
    accepted: bool  # the kind's check passed (always False under the published rule, which checks nothing)
    view: int  # 0 = the puzzle as given
    symmetry: str
    restart: int  # 0 = the view's first run; r = its r-th restart from a perturbed state
    view_steps: int  # steps the deciding view ran
    total_steps: int  # puzzle-steps spent over all its views
    q_halt_prob: float
    q_halts: bool  # the Q head said stop at the deciding step
    seconds: float  # from the step the puzzle joined the batch until it was settled
    views_tried: int = 1  # views begun (the puzzle as given, other transforms, restarts)
    compute_seconds: float = 0.0  # its share of the batch's steps
    views_allowed: int = 1  # views it could have taken
    timed_out: bool = False  # settled by `SolveOptions.time_limit` before its views ran out
    view_names: list[str] = field(default_factory=list)  # every view begun, in order (`view` indexes it)

    @property
    def confidence(self) -> float:
        """Mean probability of the predicted token over the answer's cells."""
        return float(self.cells.mean()) if self.cells.size else 0.0


@dataclass
class ViewStep:
    """One step of one view, in the puzzle's own frame: what `--trace` shows. The last one a puzzle gets
    (`last`) is always the answer it settled on, whichever view found it."""

    key: Hashable  # the caller's name for the puzzle (`ContinuousBatch.add`)
    view: int
    symmetry: str  # with ", restart r" for a restart
    step: int  # steps this view has run
    answer: np.ndarray
    confidence: np.ndarray  # per cell of the answer
    q_halt_prob: float
    last: bool  # the puzzle is settled: this is its answer


@dataclass(frozen=True)
class Tick:
    """The batch after one network step, for progress displays."""

    puzzles: int  # puzzles in the batch
    rows: int  # views running
    puzzle_steps: int  # rows computed so far, over the whole run


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


@dataclass(eq=False)
class _Entry:
    """One puzzle in the batch: its views and what they have found so far."""

    key: Hashable
    puzzle: Puzzle
    identifier: int
    views: _Views
    started: float
    spent: int = 0  # puzzle-steps over all its views
    compute: float = 0.0  # seconds of the batch's steps spent on its rows (its share of each step)
    begun: int = 0  # views started so far
    running: int = 0  # its rows in the batch
    candidates: list[Outcome] = field(default_factory=list)  # views that ran out of steps
    outcome: Outcome | None = None
    shown_view: int = 0  # the view --trace follows: the lowest still running


class _Group:
    """The rows of the puzzles that share one canvas crop: one batch through the network per step."""

    def __init__(self, model: RecursiveReasoningModel, positions: torch.Tensor | None) -> None:
        self.model, self.positions = model, positions
        self.per_pass = pass_rows(model, positions)
        self.entries: list[_Entry] = []  # per row
        self.view: list[int] = []
        self.steps: list[int] = []
        self.x: torch.Tensor | None = None  # input embedding
        self.carry: Carry | None = None
        self.tokens: torch.Tensor | None = None  # input tokens on the whole canvas

    def add(self, pairs: list[tuple[_Entry, int]], noise: float) -> None:
        """Start views (entry, view) from the initial state, restarts perturbed."""
        device = self.model.device
        inputs = np.stack([entry.views.tokens[entry.views.transform(v)] for entry, v in pairs])
        tokens = torch.from_numpy(inputs).long().to(device)
        ids = torch.tensor([entry.identifier for entry, _ in pairs], dtype=torch.long, device=device)
        x = self.model.embed(tokens, ids, self.positions)
        seeds = [entry.views.noise_seed(v) for entry, v in pairs]
        carry = _perturb(self.model.initial_carry(len(pairs), self.positions), seeds, noise)
        for entry, v in pairs:
            entry.begun, entry.running = max(entry.begun, v + 1), entry.running + 1
        self.entries += [entry for entry, _ in pairs]
        self.view += [v for _, v in pairs]
        self.steps += [0] * len(pairs)
        if self.x is None or self.carry is None or self.tokens is None:
            self.x, self.carry, self.tokens = x, carry, tokens
        else:
            self.x, self.tokens = torch.cat((self.x, x)), torch.cat((self.tokens, tokens))
            self.carry = Carry.cat([self.carry, carry])

    def keep(self, rows: list[int], carry: Carry) -> None:
        """Keep only `rows`, with the carry the step just computed."""
        assert self.x is not None and self.tokens is not None
        for r in set(range(len(self.entries))) - set(rows):
            self.entries[r].running -= 1
        index = torch.tensor(rows, dtype=torch.long, device=self.model.device)
        self.x, self.carry, self.tokens = self.x[index], carry.select(index), self.tokens[index]
        self.entries, self.view, self.steps = (
            [kept[r] for r in rows] for kept in (self.entries, self.view, self.steps)
        )


class ContinuousBatch:
    """Puzzles in, settled outcomes out, a network step at a time (see the module's docstring).

    On a model that runs on a canvas crop, puzzles run in groups by the square that holds all their views (a
    rotated maze can reach one row further than the maze as given), each group its own batch, the groups in
    turn: a view one row larger would otherwise make its batch mates run one row larger too."""

    def __init__(
        self,
        model: RecursiveReasoningModel,
        kind: PuzzleKind,
        options: SolveOptions,
        on_step: Callable[[ViewStep], None] | None = None,
    ) -> None:
        self.model, self.kind, self.options, self.on_step = model, kind, options, on_step
        self.checked = options.verified(kind)
        self.max_steps = options.steps_for(model, kind)
        trained = model.info.default_steps or model.config.halt_max_steps
        self.spawn_at = min(self.max_steps, trained)  # a failing puzzle's other views join after this step
        self.threshold = None if self.checked else options.halt_threshold
        self.noise = model.info.restart_noise or 0.0
        self.groups: dict[int, _Group] = {}
        self.turn = 0  # the group that steps next
        self.puzzle_steps = 0
        self.puzzles = 0  # in the batch, not yet settled

    @torch.inference_mode()
    def add(self, key: Hashable, puzzle: Puzzle, identifier: int = 0) -> None:
        """Put a puzzle in the batch; `key` names it in what comes out."""
        views = _views(self.model, self.kind, puzzle, self.options)
        every = torch.from_numpy(np.stack(views.tokens)).long().to(self.model.device)
        positions = self.model.canvas_positions(every)
        side = 0 if positions is None else len(positions)
        group = self.groups.setdefault(side, _Group(self.model, positions))
        group.add([(_Entry(key, puzzle, identifier, views, time.perf_counter()), 0)], self.noise)
        self.puzzles += 1

    @torch.inference_mode()
    def step(self) -> list[tuple[Hashable, Outcome]]:
        """One network step of the next group: the puzzles it settled, with their outcomes."""
        sides = sorted(side for side, group in self.groups.items() if group.entries)
        if not sides:
            return []
        side = sides[self.turn % len(sides)]
        self.turn += 1
        return self._step(self.groups[side])

    def _step(self, group: _Group) -> list[tuple[Hashable, Outcome]]:
        model, kind, device = self.model, self.kind, self.model.device
        assert group.x is not None and group.carry is not None and group.tokens is not None
        began = time.perf_counter()
        out = run_step(model, group.carry, group.x, group.positions, group.per_pass)
        confidence, predicted = out.logits.float().softmax(-1).max(-1)
        if group.positions is None:
            full, full_confidence = predicted, confidence
        else:  # outside the crop the answer is the input (padding), with certainty
            full, full_confidence = group.tokens.clone(), torch.ones(group.tokens.shape, device=device)
            full[:, group.positions], full_confidence[:, group.positions] = predicted, confidence
        full_np, confidence_np = full.cpu().numpy(), full_confidence.cpu().numpy()
        q_halt = torch.sigmoid(out.q_halt_logits.float()).cpu().numpy()
        q_halts = model.halts(out.q_halt_logits, out.q_continue_logits, self.threshold).cpu().numpy()
        now = time.perf_counter()
        self.puzzle_steps += len(group.entries)

        keep, spawn, settled = [], [], []
        frames: dict[int, ViewStep] = {}  # by id of the entry: the step of the view its trace follows
        current: dict[int, list[Outcome]] = {}  # by id of the entry: its running views' answers this step
        for r, (entry, v) in enumerate(zip(group.entries, group.view, strict=True)):
            if entry.outcome is not None:
                continue  # settled by another view this step
            group.steps[r] += 1
            entry.spent += 1
            views = entry.views
            symmetry, framed = views.symmetries[views.transform(v)], views.framed[views.transform(v)]
            answer = symmetry.inverse(kind.decode(full_np[r], framed))
            cells = symmetry.cells_back(canvas_cells(confidence_np[r], framed.grid.shape))
            accepted = bool(self.checked and kind.accepts(entry.puzzle, answer))
            halts = not self.checked and self.options.halt and bool(q_halts[r])
            ended = accepted or halts or group.steps[r] >= self.max_steps
            outcome = Outcome(
                answer, cells, accepted, v, views.name(v), views.restart(v), group.steps[r], 0, float(q_halt[r]),
                bool(q_halts[r]), now - entry.started,
            )  # fmt: skip
            if accepted:
                entry.outcome = outcome
                settled.append(entry)
            elif ended:
                entry.candidates.append(outcome)
            else:
                keep.append(r)
                current.setdefault(id(entry), []).append(outcome)
            if self.checked and v == 0 and group.steps[r] == self.spawn_at and not accepted:
                spawn += [(entry, other) for other in range(1, min(views.distinct, views.count))]
            if self.on_step is not None and v == entry.shown_view:
                frames[id(entry)] = ViewStep(entry.key, v, views.name(v), group.steps[r], answer, cells,
                                             float(q_halt[r]), False)  # fmt: skip
        share = (time.perf_counter() - began) / len(group.entries)  # a row's part of this step
        for entry in group.entries:
            entry.compute += share
        present = list({id(entry): entry for entry in group.entries}.values())
        limit = self.options.time_limit
        for entry in present:
            if entry.outcome is None and limit is not None and entry.compute >= limit:
                entry.outcome = _surest(entry.candidates + current.get(id(entry), []))
                entry.outcome.timed_out = True
                settled.append(entry)
        keep = [r for r in keep if group.entries[r].outcome is None]  # drop the other views of settled puzzles
        group.keep(keep, out.carry)
        spawning = {id(entry) for entry, _ in spawn}
        for entry in present:
            if entry.outcome is not None or entry.running or id(entry) in spawning:
                continue
            views = entry.views  # every view begun ran out of steps
            if entry.begun < views.count:  # the next round of restarts
                spawn += [(entry, v) for v in range(entry.begun, min(entry.begun + views.distinct, views.count))]
            else:  # the surest candidate (under the published rule, the one view's last answer)
                entry.outcome = _surest(entry.candidates)
                settled.append(entry)
        if spawn:
            group.add(spawn, self.noise)
        if self.on_step is not None:  # a settled puzzle's last frame is its answer (`_settled`)
            for entry in present:
                if entry.outcome is None and id(entry) in frames:
                    self.on_step(frames[id(entry)])
        for entry in group.entries:  # --trace follows the lowest view still running
            entry.shown_view = entry.begun
        for entry, v in zip(group.entries, group.view, strict=True):
            entry.shown_view = min(entry.shown_view, v)
        return [self._settled(entry) for entry in settled]

    def _settled(self, entry: _Entry) -> tuple[Hashable, Outcome]:
        outcome = entry.outcome
        assert outcome is not None
        outcome.total_steps = entry.spent
        outcome.views_tried, outcome.views_allowed = entry.begun, entry.views.count
        outcome.view_names = [entry.views.name(v) for v in range(entry.begun)]
        outcome.compute_seconds = entry.compute
        self.puzzles -= 1
        if self.on_step is not None:  # the trace ends on the answer, whichever view found it
            self.on_step(ViewStep(entry.key, outcome.view, outcome.symmetry, outcome.view_steps, outcome.answer,
                                  outcome.cells, outcome.q_halt_prob, True))  # fmt: skip
        return entry.key, outcome

    def tick(self) -> Tick:
        return Tick(self.puzzles, sum(len(group.entries) for group in self.groups.values()), self.puzzle_steps)


def _surest(candidates: list[Outcome]) -> Outcome:
    """The answer the model was surest of: Q head, then mean confidence, then the lowest view."""
    return max(candidates, key=lambda c: (c.q_halt_prob, c.confidence, -c.view))


def solve_verified(
    model: RecursiveReasoningModel,
    kind: PuzzleKind,
    puzzles: Sequence[Puzzle],
    identifiers: Sequence[int],
    options: SolveOptions,
    on_step: Callable[[ViewStep], None] | None = None,
) -> list[Outcome]:
    """Settle every puzzle of `puzzles` together (one continuous batch holding them all); outcomes in order.
    `ViewStep.key` is the puzzle's position."""
    batch = ContinuousBatch(model, kind, options, on_step)
    for index, (puzzle, identifier) in enumerate(zip(puzzles, identifiers, strict=True)):
        batch.add(index, puzzle, identifier)
    outcomes: dict[Hashable, Outcome] = {}
    while batch.puzzles:
        outcomes.update(batch.step())
    return [outcomes[index] for index in range(len(puzzles))]

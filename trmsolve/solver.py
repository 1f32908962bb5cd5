"""Solving puzzle files: read inputs, run the refinement loop in batches, decode and verify every answer.

This is the library layer under the `trmsolve sudoku | maze | arc` commands: it never prints. Reading
inputs does not import torch, so bad files are reported before a model is loaded; `solve` imports it.

Every grid a kind produces sits at the top-left of the model's square canvas (Sudoku fills its 9x9
canvas, mazes and ARC grids are placed at the top-left of 30x30), so a per-position value such as
confidence maps onto the answer's cells by reshaping to the canvas and cropping the answer's shape.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from trmsolve.errors import PuzzleParseError, TrmsolveError
from trmsolve.kinds import Puzzle, PuzzleKind, Verdict, get_kind
from trmsolve.options import SolveOptions

if TYPE_CHECKING:
    from trmsolve.distributed import Shard
    from trmsolve.network import RecursiveReasoningModel
    from trmsolve.search import Outcome, Tick, ViewStep

STDIN = "-"
STDIN_SOURCE = "<stdin>"
ARGUMENT_SOURCE = "<argument>"
# The bundled model each command uses unless --model says otherwise.


# -------------------------------------------------------------------------------------------------- inputs


def input_files(paths: Sequence[str | Path], kind: PuzzleKind) -> Iterator[Path | str | PuzzleParseError]:
    """The files to read, in order: files as given, directories walked recursively (sorted) for the kind's
    extensions, `-` for stdin, and an argument that is a puzzle itself (`PuzzleKind.is_inline`) as its text. A
    missing path or a directory without puzzle files yields an error."""
    for raw in paths:
        if str(raw) == STDIN:
            yield STDIN
            continue
        path = Path(raw)
        if not path.exists() and kind.is_inline(str(raw)):
            yield str(raw)  # a puzzle itself, not a path
            continue
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in kind.extensions
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                yield PuzzleParseError(f"no {'/'.join(kind.extensions)} files in this directory", str(path))
            yield from found
        elif path.exists():
            yield path
        else:
            yield PuzzleParseError(f"no such file or directory{kind.inline_hint(str(raw))}", str(path))


def read_inputs(
    paths: Sequence[str | Path], kind: str | PuzzleKind, *, stdin: TextIO | None = None
) -> Iterator[Puzzle | PuzzleParseError]:
    """Every puzzle in `paths` (see `input_files`), and a `PuzzleParseError` for each bad entry or file,
    in file order. Nothing raises for a bad file, so a batch goes on past it."""
    kind = as_kind(kind)
    for item in input_files(paths, kind):
        if isinstance(item, PuzzleParseError):
            yield item
            continue
        if isinstance(item, str) and item != STDIN:  # a puzzle given as an argument
            yield from kind.parse(item + "\n", ARGUMENT_SOURCE)
            continue
        source = STDIN_SOURCE if item == STDIN else str(item)
        try:
            text = (stdin or sys.stdin).read() if item == STDIN else Path(item).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            yield PuzzleParseError("not a UTF-8 text file", source)
            continue
        except OSError as exc:
            yield PuzzleParseError(f"cannot read ({exc.strerror or exc})", source)
            continue
        try:
            yield from kind.parse(text, source)
        except PuzzleParseError as exc:
            yield exc


def as_kind(kind: str | PuzzleKind) -> PuzzleKind:
    return get_kind(kind) if isinstance(kind, str) else kind


def encode(puzzles: Iterable[Puzzle], kind: str | PuzzleKind) -> np.ndarray:
    """Model input tokens int64 [B, seq_len] of `puzzles`, for `refine`."""
    kind = as_kind(kind)
    return np.stack([kind.encode(puzzle) for puzzle in puzzles])


# ------------------------------------------------------------------------------------------------- results


@dataclass
class Result:
    """One solved puzzle: the answer, its checked verdict and how the model got there."""

    puzzle: Puzzle
    answer: np.ndarray
    verdict: Verdict
    text: str  # the answer as the kind writes it (`kind.to_text`)
    input_text: str
    expected_text: str | None  # the known answer, when the input gave one
    steps: int  # refinement steps the puzzle ran
    max_steps: int
    halted: bool  # the Q head said stop at the last step (False: max_steps, or verified solving's check, came first)
    q_halt_prob: float  # sigmoid(q_halt logit) at the last step
    confidence: float  # mean over the answer's cells of the probability of the predicted token
    elapsed_ms: float  # from the step the puzzle joined the batch until its answer was checked
    model: str
    index: int = 0  # position in the input (results come in the order puzzles settle)
    view: int = 0  # verified solving: the view that settled it (0 = the puzzle as given)
    symmetry: str = "as given"  # that view's transform
    restart: int = 0  # that view's restart round (0: its first run; search.py)
    total_steps: int = 0  # puzzle-steps over all views
    trained_steps: int = 16  # the checkpoint's own step count
    rank: int | None = None  # under torchrun: the rank that solved it
    views_tried: int = 1  # views begun: the puzzle as given, other transforms, restarts
    timed_out: bool = False  # settled by the time limit before its views ran out
    view_names: list[str] = field(default_factory=list)  # every view begun, in order (`view` indexes it)

    @property
    def route(self) -> str:
        """How the answer was reached: "as given" (the puzzle itself within the checkpoint's steps), "more
        steps" (past them), "other view" (a symmetric view) or "restart" (a view run again from a perturbed
        state); for the summary's split."""
        if self.restart:
            return "restart"
        if self.view:
            return "other view"
        return "more steps" if self.steps > self.trained_steps else "as given"

    @property
    def valid(self) -> bool:
        return self.verdict.valid

    @property
    def correct(self) -> bool | None:
        return self.verdict.correct

    @property
    def ok(self) -> bool:
        """Valid and not known to be wrong: what exit code 0 promises for every answer."""
        return self.verdict.valid and self.verdict.correct is not False

    def to_dict(self) -> dict[str, Any]:
        """The `--json` object (schema in docs/cli.md)."""
        return {
            "index": self.index,
            "source": self.puzzle.source,
            "kind": self.puzzle.kind,
            "input": self.input_text,
            "output": self.text,
            "expected": self.expected_text,
            "valid": self.verdict.valid,
            "correct": self.verdict.correct,
            "problems": list(self.verdict.problems),
            "details": self.verdict.details,
            "steps": self.steps,
            "max_steps": self.max_steps,
            "halted": self.halted,
            "q_halt_prob": round(self.q_halt_prob, 6),
            "confidence": round(self.confidence, 6),
            "elapsed_ms": round(self.elapsed_ms, 3),
            "model": self.model,
            "view": self.view,
            "symmetry": self.symmetry,
            "restart": self.restart,
            "total_steps": self.total_steps,
            "route": self.route,
            "views_tried": self.views_tried,
            "timed_out": self.timed_out,
            **({} if self.rank is None else {"rank": self.rank}),
        }

    def to_json(self) -> str:
        """One line of JSON (no newline inside, so it is one JSON Lines record)."""
        return json.dumps(self.to_dict(), default=json_default, ensure_ascii=False)


def json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass
class Summary:
    """Running totals over a batch of results, for the summary table and the benchmark."""

    puzzles: int = 0
    valid: int = 0
    known: int = 0  # results whose puzzle came with a known answer
    correct: int = 0
    unsolved: list[Puzzle] = field(default_factory=list)  # invalid, or differs from the known answer
    unreadable: list[PuzzleParseError] = field(default_factory=list)  # input entries that could not be read
    steps: int = 0
    total_steps: int = 0  # puzzle-steps over every view
    halted: int = 0
    routes: dict[str, int] = field(default_factory=dict)  # valid results by how they were reached (Result.route)
    started: float = field(default_factory=time.perf_counter)

    def add(self, result: Result | PuzzleParseError) -> None:
        if isinstance(result, PuzzleParseError):
            self.unreadable.append(result)
            return
        self.puzzles += 1
        self.valid += result.valid
        if not result.ok:
            self.unsolved.append(result.puzzle)
        self.steps += result.steps
        self.total_steps += result.total_steps
        self.halted += result.halted
        if result.valid:
            self.routes[result.route] = self.routes.get(result.route, 0) + 1
        if result.correct is not None:
            self.known += 1
            self.correct += result.correct

    @property
    def failed(self) -> int:
        return len(self.unsolved)

    @property
    def mean_steps(self) -> float:
        return self.steps / self.puzzles if self.puzzles else 0.0

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def puzzles_per_second(self) -> float:
        return self.puzzles / self.seconds if self.puzzles else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "puzzles": self.puzzles,
            "valid": self.valid,
            "known": self.known,
            "correct": self.correct if self.known else None,
            "failed": self.failed,
            "unreadable": len(self.unreadable),
            "mean_steps": round(self.mean_steps, 3),
            "total_steps": self.total_steps,
            "routes": dict(self.routes),
            "halted": self.halted,
            "seconds": round(self.seconds, 3),
            "puzzles_per_second": round(self.puzzles_per_second, 3),
        }


@dataclass
class Step:
    """One refinement step of one puzzle in grid form: what `--trace` shows."""

    puzzle: Puzzle
    step: int
    max_steps: int
    answer: np.ndarray  # the decoded answer at this step
    changed: np.ndarray | None  # bool, answer-shaped: cells that differ from the previous step (None at step 1)
    confidence: np.ndarray  # float, answer-shaped: probability of each cell's predicted token
    q_halt_prob: float
    last: bool  # the puzzle stops after this step
    view: int = 0  # verified solving: which view this step belongs to (0 = the puzzle as given)
    symmetry: str = "as given"
    caption: str = ""  # what the frame shows when it is not a step of one run (ARC: the vote's answer)


# --------------------------------------------------------------------------------------------------- solve


def default_model(kind: str) -> Path:
    """The bundled model for `kind`, by its directory, so that a file or folder of the same name in the
    current directory (say, a `sudoku/` folder of puzzles) is not taken for it."""
    from trmsolve.checkpoint import bundled_dir

    name = get_kind(kind).default_model
    path = bundled_dir(name)
    if path is None:
        raise TrmsolveError(f"this install has no bundled {kind} model ({name}); pass --model")
    return path


def check_model(model: RecursiveReasoningModel, kind: PuzzleKind) -> None:
    """Refuse a model made for another kind of puzzle before it produces nonsense."""
    task = model.info.task
    if task is not None and task != kind.name:
        raise TrmsolveError(f"this model solves {task} puzzles, not {kind.name} (pick one with --model)")
    shape = (model.config.seq_len, model.config.vocab_size)
    if shape != (kind.seq_len, kind.vocab_size):
        raise TrmsolveError(
            f"this model reads {shape[0]} tokens of {shape[1]} kinds; {kind.name} needs "
            f"{kind.seq_len} of {kind.vocab_size}"
        )


def identifier_map(model: RecursiveReasoningModel) -> dict[str, int]:
    """Identifier name -> puzzle identifier of a model trained with per-task embeddings (ARC)."""
    return {name: index for index, name in enumerate(model.identifiers or [])}


def puzzle_identifier(puzzle: Puzzle, identifiers: dict[str, int]) -> int:
    """The identifier a puzzle runs with: its task's own when the model learned one, else 0 (blank).

    This is the one view of each puzzle the model gets for now; voting over augmented views (ARC)
    replaces this pairing of one input with one identifier.
    """
    return identifiers.get(str(puzzle.meta.get("task_id", "")), 0)


def solve(
    puzzles: Iterable[Puzzle | PuzzleParseError],
    model: RecursiveReasoningModel,
    *,
    kind: str | PuzzleKind,
    options: SolveOptions | None = None,
    on_step: Callable[[Step], None] | None = None,
    on_tick: Callable[[Tick], None] | None = None,
    model_name: str | None = None,
    in_order: bool = False,
    shard: Shard | None = None,
) -> Iterator[Result | PuzzleParseError]:
    """Solve `puzzles` with `model`, yielding a checked `Result` per puzzle as soon as it settles.

    Puzzles run in a continuous batch of `options.batch_size` (`trmsolve.search`): a new one joins as soon as
    one settles, so results come in the order puzzles settle, each with its position in the input
    (`Result.index`); `in_order=True` holds them back to yield them in input order. A `PuzzleParseError` among
    the inputs (what `read_inputs` yields for a bad entry) comes out as it is, at once, so nothing read is lost.

    By default (`SolveOptions()`) a kind that can check its answers is solved by verified solving; otherwise,
    or with `verify=False`, each puzzle stops when the Q head says so (`halt_threshold`: as a probability) or
    after `max_steps`, and `halt=False` runs every step, as the published evaluation does. `on_step` is called
    for each step of the view a puzzle's trace follows, and last with the answer it settled on (for `--trace`;
    it costs a decode per puzzle and step); `on_tick` after every network step (for progress).

    Under torchrun, with this process's `shard` (`trmsolve.distributed`), the ranks share the puzzles: each
    takes the next one when its batch has room. Rank 0 yields every puzzle's result and every bad entry, as
    one process would; another rank sends its results to rank 0 and yields just those.
    """
    from trmsolve.search import ContinuousBatch

    kind = as_kind(kind)
    options = options or SolveOptions()
    check_model(model, kind)
    if options.batch_size < 1:
        raise TrmsolveError(f"batch size must be at least 1, not {options.batch_size}")
    name = model_name or str(model.info.provenance.get("name", model.config.arch))
    identifiers = identifier_map(model)
    max_steps = options.steps_for(model, kind)
    running: dict[int, Puzzle] = {}  # by position in the input
    trace = _Trace(max_steps, running, on_step) if on_step is not None else None
    batch = ContinuousBatch(model, kind, options, trace)
    order = _InputOrder() if in_order and (shard is None or shard.leader) else None
    fields = {"max_steps": max_steps, "model": name,
              "trained_steps": model.info.default_steps or model.config.halt_max_steps}  # fmt: skip

    def release(index: int, item: Result | PuzzleParseError) -> Iterator[Result | PuzzleParseError]:
        yield from order.release(index, item) if order else (item,)

    pending: Iterator[tuple[int, Puzzle | PuzzleParseError]] = enumerate(puzzles)
    gather, total, own = None, 0, 0  # rank 0 under torchrun: the other ranks' results; puzzles in all; its own
    if shard is not None:
        entries = list(pending)
        pending = shard.claim((i, item) for i, item in entries if not isinstance(item, PuzzleParseError))
        if shard.leader:
            gather, total = shard.gather(), sum(not isinstance(item, PuzzleParseError) for _, item in entries)
            for index, item in entries:
                if isinstance(item, PuzzleParseError):
                    yield from release(index, item)
    more = True
    while True:
        while more and batch.puzzles < options.batch_size:
            index, item = next(pending, (-1, None))
            if item is None:
                more = False
            elif isinstance(item, PuzzleParseError):
                yield from release(index, item)
            else:
                running[index] = item
                batch.add(index, item, puzzle_identifier(item, identifiers))
        if not batch.puzzles:
            break
        if shard is not None and not more:  # the queue is empty: the cores of ranks that are done are free
            shard.lend_threads(model.device)
        for index, outcome in batch.step():
            assert isinstance(index, int)
            result = _result(kind, running.pop(index), outcome, index=index, **fields)
            if shard is not None:
                result.rank = shard.rank
            if shard is not None and not shard.leader:
                shard.publish(result)
            own += 1
            yield from release(index, result)
        for result in gather.arrived() if gather else ():
            yield from release(result.index, result)
        if on_tick is not None:
            on_tick(batch.tick())
    if shard is not None:
        shard.finished()
    for result in gather.rest(total - own) if gather else ():
        yield from release(result.index, result)


def _result(kind: PuzzleKind, puzzle: Puzzle, outcome: Outcome, **fields: Any) -> Result:
    """A Result with the answer checked and written out as the kind writes it."""
    checking = time.perf_counter()
    result = Result(
        puzzle=puzzle,
        answer=outcome.answer,
        verdict=kind.verify(puzzle, outcome.answer),
        text=kind.to_text(outcome.answer),
        input_text=kind.to_text(puzzle.grid),
        expected_text=None if puzzle.answer is None else kind.to_text(puzzle.answer),
        steps=outcome.view_steps,
        halted=outcome.q_halts,
        q_halt_prob=outcome.q_halt_prob,
        confidence=outcome.confidence,
        elapsed_ms=outcome.seconds * 1000,
        view=outcome.view,
        symmetry=outcome.symmetry,
        restart=outcome.restart,
        total_steps=outcome.total_steps,
        views_tried=outcome.views_tried,
        timed_out=outcome.timed_out,
        view_names=outcome.view_names,
        **fields,
    )
    if outcome.timed_out and not outcome.accepted:  # what was tried, where the time went
        result.verdict.problems.append(
            f"time limit: stopped after {outcome.views_tried} of {outcome.views_allowed} views, "
            f"{outcome.total_steps} puzzle-steps, {outcome.compute_seconds:.0f} s of compute"
        )
    result.elapsed_ms += (time.perf_counter() - checking) * 1000
    return result


class _InputOrder:
    """Releases results in input order: each as soon as everything before it has come."""

    def __init__(self) -> None:
        self.next = 0
        self.held: dict[int, Result | PuzzleParseError] = {}  # what came before its turn

    def release(self, index: int, item: Result | PuzzleParseError) -> Iterator[Result | PuzzleParseError]:
        self.held[index] = item
        while self.next in self.held:
            yield self.held.pop(self.next)
            self.next += 1


class _Trace:
    """Turns the batch's view steps into `Step`s: the puzzle itself, and the cells changed since its last frame."""

    def __init__(self, max_steps: int, puzzles: dict[int, Puzzle], on_step: Callable[[Step], None]) -> None:
        self.max_steps, self.puzzles, self.on_step = max_steps, puzzles, on_step
        self.shown: dict[int, np.ndarray] = {}

    def __call__(self, step: ViewStep) -> None:
        assert isinstance(step.key, int)
        previous = self.shown.pop(step.key, None)
        changed = None if previous is None or previous.shape != step.answer.shape else previous != step.answer
        if not step.last:  # a settled puzzle's frames are over
            self.shown[step.key] = step.answer
        puzzle = self.puzzles[step.key]
        self.on_step(
            Step(puzzle, step.step, self.max_steps, step.answer, changed, step.confidence, step.q_halt_prob, step.last,
                 step.view, step.symmetry)
        )  # fmt: skip

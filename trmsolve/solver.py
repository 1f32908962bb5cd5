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
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from trmsolve.errors import PuzzleParseError, TrmsolveError
from trmsolve.kinds import Puzzle, PuzzleKind, Verdict, get_kind
from trmsolve.kinds.base import canvas_cells
from trmsolve.options import SolveOptions

if TYPE_CHECKING:
    from trmsolve.inference import StepRecord
    from trmsolve.model import RecursiveReasoningModel
    from trmsolve.search import ViewStep

STDIN = "-"
STDIN_SOURCE = "<stdin>"
# The bundled model each command uses unless --model says otherwise.
DEFAULT_MODELS = {"sudoku": "sudoku", "maze": "maze", "arc": "arc-demo"}


# -------------------------------------------------------------------------------------------------- inputs


def input_files(paths: Sequence[str | Path], kind: PuzzleKind) -> Iterator[Path | str | PuzzleParseError]:
    """The files to read, in order: files as given, directories walked recursively (sorted) for the kind's
    extensions, `-` for stdin. A missing path or a directory without puzzle files yields an error."""
    for raw in paths:
        if str(raw) == STDIN:
            yield STDIN
            continue
        path = Path(raw)
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
            yield PuzzleParseError("no such file or directory", str(path))


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
    elapsed_ms: float  # from the start of the puzzle's crop group (`crop_groups`) until its answer was checked
    model: str
    view: int = 0  # verified solving: the view that settled it (0 = the puzzle as given)
    symmetry: str = "as given"  # that view's transform
    restart: int = 0  # that view's restart round (0: its first run; search.py)
    total_steps: int = 0  # puzzle-steps over all views
    trained_steps: int = 16  # the checkpoint's own step count

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
        }

    def to_json(self) -> str:
        """One line of JSON (no newline inside, so it is one JSON Lines record)."""
        return json.dumps(self.to_dict(), default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
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
    steps: int = 0
    total_steps: int = 0  # puzzle-steps over every view
    halted: int = 0
    routes: dict[str, int] = field(default_factory=dict)  # valid results by how they were reached (Result.route)
    started: float = field(default_factory=time.perf_counter)

    def add(self, result: Result) -> None:
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


# --------------------------------------------------------------------------------------------------- solve


def default_model(kind: str) -> Path:
    """The bundled model for `kind`, by its directory, so that a file or folder of the same name in the
    current directory (say, a `sudoku/` folder of puzzles) is not taken for it."""
    from trmsolve.checkpoint import bundled_dir

    path = bundled_dir(DEFAULT_MODELS[kind])
    if path is None:
        raise TrmsolveError(f"this install has no bundled {kind} model ({DEFAULT_MODELS[kind]}); pass --model")
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
    puzzles: Iterable[Puzzle],
    model: RecursiveReasoningModel,
    *,
    kind: str | PuzzleKind,
    options: SolveOptions | None = None,
    on_step: Callable[[Step], None] | None = None,
    model_name: str | None = None,
) -> Iterator[Result]:
    """Solve `puzzles` with `model`, yielding a checked `Result` per puzzle, in order, as each batch ends.

    By default (`SolveOptions()`) a kind that can check its answers is solved by verified solving
    (`trmsolve.search`); otherwise, or with `verify=False`, each puzzle stops when the Q head says so
    (`halt_threshold`: as a probability) or after `max_steps`, and `halt=False` runs every step, as the
    published evaluation does. `on_step` is called for every puzzle computed in every step (for `--trace`);
    it costs a decode per puzzle and step, so leave it out when nothing watches.
    """
    from trmsolve.inference import crop_groups

    kind = as_kind(kind)
    options = options or SolveOptions()
    check_model(model, kind)
    if options.batch_size < 1:
        raise TrmsolveError(f"batch size must be at least 1, not {options.batch_size}")
    name = model_name or str(model.info.provenance.get("name", model.config.arch))
    identifiers = identifier_map(model)
    iterator = iter(puzzles)
    run = _run_verified if options.verified(kind) else _run_published
    while batch := list(islice(iterator, options.batch_size)):
        ids = [puzzle_identifier(p, identifiers) for p in batch]
        results: dict[int, Result] = {}
        for group in crop_groups(model, np.stack([kind.encode(p) for p in batch])):
            answers = run(model, kind, [batch[i] for i in group], [ids[i] for i in group], options, on_step, name)
            results.update(zip(group, answers, strict=True))
        yield from (results[i] for i in range(len(batch)))


def _result(kind: PuzzleKind, puzzle: Puzzle, answer: np.ndarray, **fields: Any) -> Result:
    """A Result with the answer checked and written out as the kind writes it."""
    return Result(
        puzzle=puzzle,
        answer=answer,
        verdict=kind.verify(puzzle, answer),
        text=kind.to_text(answer),
        input_text=kind.to_text(puzzle.grid),
        expected_text=None if puzzle.answer is None else kind.to_text(puzzle.answer),
        **fields,
    )


def _run_verified(
    model: RecursiveReasoningModel,
    kind: PuzzleKind,
    batch: list[Puzzle],
    ids: list[int],
    options: SolveOptions,
    on_step: Callable[[Step], None] | None,
    name: str,
) -> Iterator[Result]:
    """One batch by verified solving."""
    from trmsolve.search import solve_verified

    max_steps = options.steps_for(model, kind)
    trained = model.info.default_steps or model.config.halt_max_steps

    def report(step: ViewStep) -> None:
        assert on_step is not None
        previous = shown.get(step.index)
        changed = None if previous is None or previous.shape != step.answer.shape else previous != step.answer
        shown[step.index] = step.answer
        on_step(
            Step(batch[step.index], step.step, max_steps, step.answer, changed, step.confidence, step.q_halt_prob,
                 step.last, step.view, step.symmetry)
        )  # fmt: skip

    shown: dict[int, np.ndarray] = {}
    outcomes = solve_verified(model, kind, batch, ids, options, report if on_step is not None else None)
    for puzzle, outcome in zip(batch, outcomes, strict=True):
        checked = time.perf_counter()
        result = _result(
            kind,
            puzzle,
            outcome.answer,
            steps=outcome.view_steps,
            max_steps=max_steps,
            halted=outcome.q_halts,
            q_halt_prob=outcome.q_halt_prob,
            confidence=outcome.confidence,
            elapsed_ms=outcome.seconds * 1000,
            model=name,
            view=outcome.view,
            symmetry=outcome.symmetry,
            restart=outcome.restart,
            total_steps=outcome.total_steps,
            trained_steps=trained,
        )
        result.elapsed_ms += (time.perf_counter() - checked) * 1000
        yield result


def _run_published(
    model: RecursiveReasoningModel,
    kind: PuzzleKind,
    batch: list[Puzzle],
    ids: list[int],
    options: SolveOptions,
    on_step: Callable[[Step], None] | None,
    name: str,
) -> Iterator[Result]:
    """One batch by the published rule: one view, the Q head (or every step) decides when to stop."""
    from trmsolve.inference import refine

    max_steps = options.steps_for(model, kind)
    started = time.perf_counter()
    tokens = np.stack([kind.encode(p) for p in batch])
    finished_at = np.zeros(len(batch))
    previous: dict[int, np.ndarray] = {}
    record = None
    steps_run = refine(
        model, tokens, np.array(ids, dtype=np.int64), max_steps=max_steps, halt=options.halt,
        halt_threshold=options.halt_threshold,
    )  # fmt: skip
    for record in steps_run:
        finishing = (record.halted & record.active).cpu().numpy()
        finished_at[finishing] = time.perf_counter() - started
        if on_step is not None:
            _report_steps(kind, batch, record, max_steps, previous, on_step)
    assert record is not None  # a non-empty batch runs at least one step
    predictions = record.predictions.cpu().numpy()
    confidence = record.confidence.float().cpu().numpy()
    q_halt_prob = record.q_halt_prob.float().cpu().numpy()
    q_says_halt = model.halts(record.q_halt_logits, record.q_continue_logits, options.halt_threshold).cpu().numpy()
    steps = record.steps.cpu().numpy()
    trained = model.info.default_steps or model.config.halt_max_steps
    for i, puzzle in enumerate(batch):
        checked = time.perf_counter()
        answer = kind.decode(predictions[i], puzzle)
        cells = canvas_cells(confidence[i], answer.shape)
        result = _result(
            kind,
            puzzle,
            answer,
            steps=int(steps[i]),
            max_steps=max_steps,
            halted=bool(q_says_halt[i]),
            q_halt_prob=float(q_halt_prob[i]),
            confidence=float(cells.mean()) if cells.size else 0.0,
            elapsed_ms=0.0,
            model=name,
            total_steps=int(steps[i]),
            trained_steps=trained,
        )
        result.elapsed_ms = (finished_at[i] + time.perf_counter() - checked) * 1000
        yield result


def _report_steps(
    kind: PuzzleKind,
    batch: list[Puzzle],
    record: StepRecord,
    max_steps: int,
    previous: dict[int, np.ndarray],
    on_step: Callable[[Step], None],
) -> None:
    """Call `on_step` for each puzzle computed in this step; `previous` keeps each one's last answer."""
    rows = record.active.nonzero().flatten().tolist()
    predictions = record.predictions[rows].cpu().numpy()
    confidence = record.confidence[rows].float().cpu().numpy()
    q_halt_prob = record.q_halt_prob[rows].float().cpu().numpy()
    halted = record.halted[rows].cpu().numpy()
    for j, i in enumerate(rows):
        answer = kind.decode(predictions[j], batch[i])
        before = previous.get(i)
        changed = None
        if before is not None:
            changed = before != answer if before.shape == answer.shape else np.ones(answer.shape, bool)
        previous[i] = answer
        on_step(
            Step(
                puzzle=batch[i],
                step=record.step,
                max_steps=max_steps,
                answer=answer,
                changed=changed,
                confidence=canvas_cells(confidence[j], answer.shape),
                q_halt_prob=float(q_halt_prob[j]),
                last=bool(halted[j]),
            )
        )

"""ARC-AGI end to end: augmented runs per test input, the published vote, pass@K, submissions, adaptation.

A TRM for ARC is transductive: it learned one puzzle embedding per task and per augmented version of the
task (identifier `"<task>|||t<k>|||<perm>"`), so it can only be asked about a task through those
identifiers. For every test input this module runs each identifier the model knows for its task on the
input augmented the same way, decodes by cropping, undoes the augmentation and votes as the published
evaluator (`evaluators/arc.py`) does: identical grids are grouped, ranked by how many runs gave them, then
by their mean sigmoid(q_halt); the top K are the K attempts. Written from reading that code, not copied.

Published checkpoints come without the identifier map; `attach_identifier_map` rebuilds it from the
public task files with the published builder settings (it takes a few minutes) and caches it under
`$TRMSOLVE_CACHE` (default `~/.cache/trmsolve`) in `arc-maps/<key>/identifiers.json`, the key hashing the
settings and the task files' contents.

Tasks the model never saw have no embedding: they run with the blank identifier 0 unless `adapt` first
learns embeddings for them from their demonstration pairs, with the network frozen.

This is a library: it returns data and never prints.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.arc_builder import (
    BLANK_IDENTIFIER,
    Augmentation,
    Pair,
    augment_pairs,
    build_arc_dataset,
    grid_hash,
    grid_problem,
    grid_to_tokens,
    parse_identifier,
    random_offset,
    tokens_to_grid,
)
from trmsolve.errors import TrmsolveError
from trmsolve.kinds.arc import Arc

if TYPE_CHECKING:
    from trmsolve.kinds import Puzzle
    from trmsolve.network import RecursiveReasoningModel

PASS_KS = (1, 2, 5, 10, 100, 1000)  # the K of pass@K that the published evaluator reports
SUBMISSION_ATTEMPTS = 2  # attempts per test input in an ARC Prize submission
_text = Arc().to_text  # grids as JSON output writes them
DATA_PREFIX = "arc-agi"  # Kaggle layout: <dir>/arc-agi_<subset>_challenges.json (+ _solutions.json)
CACHE_ENV = "TRMSOLVE_CACHE"


# ------------------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class View:
    """One augmented version of a task as the model knows it: its puzzle identifier and augmentation."""

    identifier: int
    augmentation: Augmentation


def task_fingerprint(pairs: Sequence[Any]) -> str:
    """A task's identity by content: a hash of its demonstration pairs, whatever its file is called."""
    import hashlib

    def grid(value: Any) -> list:
        return np.asarray(value).tolist()

    canonical = [[grid(p["input"]), grid(p["output"])] if isinstance(p, dict) else [grid(p[0]), grid(p[1])]
                 for p in pairs]  # fmt: skip
    return hashlib.sha256(json.dumps(canonical, separators=(",", ":")).encode()).hexdigest()[:16]


def recognise_tasks(model: RecursiveReasoningModel, puzzles: Sequence[Puzzle]) -> dict[str, str]:
    """Puzzles whose task the model knows under another name (a task saved as `task.json` or `x (1).json`):
    their demonstrations' fingerprint is in the model's map. Renames them in place; returns old -> known."""
    fingerprints: dict[str, str] = model.info.encoding.get("task_fingerprints", {})
    known = task_views(model.identifiers)
    renamed: dict[str, str] = {}
    for puzzle in puzzles:
        task = str(puzzle.meta["task_id"])
        if task in known or not fingerprints:
            continue
        match = fingerprints.get(task_fingerprint(puzzle.meta["train"]))
        if match is not None and match in known:
            renamed[task] = match
            puzzle.meta["task_id"] = match
    return renamed


def task_views(identifiers: Sequence[str] | None) -> dict[str, list[View]]:
    """Task -> its views in identifier order (the plain task first, as the builder numbers them). Read-only: one
    map is parsed once (a published ARC-AGI-1 map has 876,406 names, seconds to parse) however often it is asked."""
    return _task_views(tuple(identifiers or ()))


@functools.lru_cache(maxsize=2)
def _task_views(identifiers: tuple[str, ...]) -> dict[str, list[View]]:
    views: dict[str, list[View]] = {}
    for number, name in enumerate(identifiers):
        if name == BLANK_IDENTIFIER:
            continue
        try:
            augmentation = parse_identifier(name)
        except ValueError as exc:
            raise TrmsolveError(f"identifier {number} of the model's map: {exc}") from None
        views.setdefault(augmentation.task, []).append(View(number, augmentation))
    return views


def spread(views: Sequence[View], budget: int | None) -> list[View]:
    """`budget` of a task's views, taken in turn from each of the eight rotations and reflections (the plain
    version first, builder order within each), so that a small budget still votes over every orientation. The
    published evaluation votes over all of them; with a budget of N the vote is what it would be over these N."""
    if budget is None or budget >= len(views):
        return list(views)
    by_transform: dict[int, list[View]] = {}
    for view in views:
        by_transform.setdefault(view.augmentation.trans_id, []).append(view)
    queues = sorted(by_transform.values(), key=lambda queue: queue[0].identifier)
    chosen: list[View] = []
    for round_ in itertools.zip_longest(*queues):
        chosen += [view for view in round_ if view is not None]
        if len(chosen) >= budget:
            break
    return chosen[:budget]


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


# ----------------------------------------------------------------------------------------------- scoring


@dataclass
class TaskScore:
    """How many of a task's test inputs have their known answer among the top K, for each K."""

    task_id: str
    tests: int
    passed: dict[int, int]

    def pass_at(self, k: int) -> float:
        return self.passed[k] / self.tests


@dataclass
class ArcScore:
    """pass@K as the published evaluator computes it: per task, the share of its test inputs answered
    within K attempts; overall, the mean over tasks. `example_pass_at` pools test inputs instead."""

    ks: tuple[int, ...]
    tasks: list[TaskScore] = field(default_factory=list)

    def pass_at(self, k: int) -> float:
        return sum(t.pass_at(k) for t in self.tasks) / len(self.tasks) if self.tasks else 0.0

    def example_pass_at(self, k: int) -> float:
        tests = sum(t.tests for t in self.tasks)
        return sum(t.passed[k] for t in self.tasks) / tests if tests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": len(self.tasks),
            "tests": sum(t.tests for t in self.tasks),
            **{f"pass@{k}": round(self.pass_at(k), 6) for k in self.ks},
            **{f"example_pass@{k}": round(self.example_pass_at(k), 6) for k in self.ks},
        }


def score(answers: Iterable[ArcAnswer], ks: Sequence[int] = PASS_KS) -> ArcScore:
    """pass@K of the tasks whose every test input has a known answer, in order of first appearance."""
    by_task: dict[str, list[ArcAnswer]] = {}
    for answer in answers:
        by_task.setdefault(answer.task_id, []).append(answer)
    result = ArcScore(tuple(ks))
    for task, group in by_task.items():
        if any(a.puzzle.answer is None for a in group):
            continue
        result.tasks.append(TaskScore(task, len(group), {k: sum(bool(a.passes(k)) for a in group) for k in ks}))
    return result


def submission(answers: Iterable[ArcAnswer], attempts: int = SUBMISSION_ATTEMPTS) -> dict[str, list[dict[str, Any]]]:
    """The ARC Prize `submission.json` object: task -> one {"attempt_1": grid, ...} per test input in order."""
    by_task: dict[str, dict[int, ArcAnswer]] = {}
    for answer in answers:
        by_task.setdefault(answer.task_id, {})[answer.test_index] = answer
    return {
        task: [
            {f"attempt_{j + 1}": grid.tolist() for j, grid in enumerate(tests[index].attempts(attempts))}
            for index in sorted(tests)
        ]
        for task, tests in by_task.items()
    }


def write_submission(path: str | Path, answers: Iterable[ArcAnswer], attempts: int = SUBMISSION_ATTEMPTS) -> Path:
    path = Path(path)
    path.write_text(json.dumps(submission(answers, attempts)), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------- identifier maps


def read_task_list(path: str | Path) -> list[str]:
    """Task ids, one per line; blank lines and `#` comments are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrmsolveError(f"{path}: cannot read ({exc.strerror or exc})") from None
    tasks = [line.split("#", 1)[0].strip() for line in lines]
    tasks = [task for task in tasks if task]
    if not tasks:
        raise TrmsolveError(f"{path}: no task ids")
    return tasks


@dataclass(frozen=True)
class MapSettings:
    """Builder options that decide a data set's identifier map (its output directory does not)."""

    name: str
    subsets: tuple[str, ...]
    test_set_name: str
    test_set_name2: str = "evaluation2"
    seed: int = 42
    num_aug: int = 1000
    puzzle_identifiers_start: int = 1


# The published runs' builder commands (TRM and HRM READMEs).
PUBLISHED_MAPS = (
    MapSettings("ARC-AGI-1", ("training", "evaluation", "concept"), "evaluation"),
    MapSettings("ARC-AGI-2", ("training2", "evaluation2", "concept"), "evaluation2"),
)


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "trmsolve")


def _task_files(data_dir: Path, settings: MapSettings) -> list[Path]:
    return [
        data_dir / f"{DATA_PREFIX}_{s}_{part}.json" for s in settings.subsets for part in ("challenges", "solutions")
    ]


def map_path(data_dir: str | Path, settings: MapSettings) -> Path:
    """Where the map of these settings over these task files is cached (the key hashes both)."""
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for path in _task_files(Path(data_dir), settings):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"missing")
    return cache_dir() / "arc-maps" / digest.hexdigest()[:20] / "identifiers.json"


def identifier_map(data_dir: str | Path, settings: MapSettings) -> list[str]:
    """The `identifiers.json` the builder makes with `settings` from the task files in `data_dir`: read from
    the cache, else rebuilt (minutes for 1,000 augmentations) and cached."""
    data_dir = Path(data_dir)
    missing = [p for p in _task_files(data_dir, settings) if p.name.endswith("_challenges.json") and not p.is_file()]
    if missing:
        raise TrmsolveError(f"{missing[0]}: no such file (needed for the {settings.name} identifier map)")
    cached = map_path(data_dir, settings)
    if cached.is_file():
        return json.loads(cached.read_text())
    try:
        names = build_arc_dataset(
            data_dir / DATA_PREFIX,
            None,
            settings.subsets,
            settings.test_set_name,
            settings.test_set_name2,
            seed=settings.seed,
            num_aug=settings.num_aug,
            puzzle_identifiers_start=settings.puzzle_identifiers_start,
        ).identifiers
    except ValueError as exc:
        raise TrmsolveError(str(exc)) from None
    cached.parent.mkdir(parents=True, exist_ok=True)
    (cached.parent / "settings.json").write_text(json.dumps(asdict(settings), indent=1))
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(names))
    partial.replace(cached)
    return names


def attach_identifier_map(
    model: RecursiveReasoningModel, data_dir: str | Path, candidates: Sequence[MapSettings] = PUBLISHED_MAPS
) -> MapSettings:
    """Give `model` the first candidate map (over the task files in `data_dir`) with as many identifiers as
    its puzzle embedding has rows. Candidates whose subsets are not all in `data_dir` are skipped. When none
    fits, the error gives both counts and the augmentation count that would (HRM's ARC-2 checkpoint, for one,
    was built with other settings than its README gives)."""
    want = model.config.num_puzzle_identifiers
    tried, nearest = [], None
    for settings in candidates:
        if not all(p.is_file() for p in _task_files(Path(data_dir), settings) if p.name.endswith("_challenges.json")):
            tried.append(f"{settings.name}: task files missing")
            continue
        names = identifier_map(data_dir, settings)
        if len(names) == want:
            model.identifiers = names
            return settings
        tasks = len(task_views(names))
        tried.append(f"{settings.name}: {len(names):,} for {tasks:,} tasks")
        if nearest is None or abs(len(names) - want) < abs(nearest[1] - want):
            nearest = (settings, len(names), tasks)
    hint = ""
    if nearest is not None:
        settings, _, tasks = nearest
        per_task = (want - settings.puzzle_identifiers_start) / max(tasks, 1) - 1
        hint = (
            f"; over the {settings.name} tasks that is about {max(per_task, 0):.0f} augmentations a task instead of "
            f"{settings.num_aug}"
        )
    raise TrmsolveError(
        f"the model's puzzle embedding has {want:,} identifiers; no published identifier map over {data_dir} has "
        f"as many ({'; '.join(tried)}){hint}: build the map with the run's own settings (`trmsolve build-arc "
        "--num-aug N ...`) and pass its identifiers.json with --identifiers FILE"
    )


def read_identifier_map(path: str | Path, model: RecursiveReasoningModel) -> list[str]:
    """An identifiers.json (or a build-arc output folder holding one) for `model`: a list of names, one per row of
    its puzzle embedding, each a published identifier."""
    path = Path(path)
    file = path / "identifiers.json" if path.is_dir() else path
    try:
        names = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrmsolveError(f"{file}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrmsolveError(f"{file}: not an identifiers.json ({exc})") from None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise TrmsolveError(f"{file}: not an identifiers.json (expected a JSON list of names)")
    want = model.config.num_puzzle_identifiers
    if len(names) != want:
        raise TrmsolveError(f"{file}: {len(names):,} identifiers, the model's puzzle embedding has {want:,}")
    try:
        task_views(names)  # every name must parse
    except TrmsolveError as exc:
        raise TrmsolveError(f"{file}: {exc}") from None
    return names


# ------------------------------------------------------------------------------------------- adaptation


@dataclass
class AdaptResult:
    """What `adapt` did for one task."""

    task_id: str
    views: int  # new embedding rows, one per augmented version
    steps: int  # optimiser steps (one ACT step of every view's demonstrations each)
    seconds: float  # all of it: choosing the start and the steps
    start_seconds: float  # choosing the start (`nearest_rows`)
    loss: float  # mean loss over the last carry cycle
    demo_exact: float  # share of augmented demonstrations reproduced exactly at the last step
    started_from: list[str]  # per view: the known identifier its embedding started from, or "zeros"

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def adapt(
    model: RecursiveReasoningModel,
    task_id: str,
    pairs: Sequence[Pair],
    *,
    steps: int = 100,
    views: int = 4,
    lr: float = 1e-2,
    weight_decay: float = 0.1,
    seed: int = 0,
    bf16: bool | None = None,
    start: str = "nearest",
    progress: Callable[[int, int, float], None] | None = None,
) -> AdaptResult:
    """Learn puzzle embeddings for a task the model never saw from its demonstration `pairs`, network frozen.

    The task gets `views` versions (itself and random augmentations chosen as the builder does) and one new
    embedding row each, appended to the model's table and map, so `predict` then votes over them like over
    a trained task. Training follows the published recipe with only those rows free: deep supervision
    over ACT steps carrying the state (reset every halt_max_steps), stablemax loss + 0.5 x halting BCE,
    sign-SGD, bf16 autocast where the device runs it natively (`bf16=None`), as `trmsolve train` trains;
    demonstrations but one per view sit at random
    canvas offsets, redrawn every cycle. A step costs one ACT step over views x demonstrations, so the time
    grows with both. `progress(step, steps, loss)` is called after every step, and while the start is being
    chosen with step 0 and `loss` the share of candidates tried (0..1). Mutates `model`.

    `start="nearest"` starts each view's row from the known embedding that best predicts that view's
    demonstrations (`nearest_rows`): a rule the network learned for another task, or for another
    augmented version of one, is then one short step away instead of 100 sign-SGD steps from zero.
    `start="zeros"` starts from zeros.
    """
    import torch
    import torch.nn.functional as F

    from trmsolve.network import Carry
    from trmsolve.network.layers import PuzzleEmbedding
    from trmsolve.train import IGNORE_LABEL, SignSGD, token_losses

    config = model.config
    if config.puzzle_emb_ndim <= 0:
        raise TrmsolveError("this model has no puzzle embeddings to adapt")
    if not pairs:
        raise TrmsolveError(f"task {task_id}: no demonstration pairs to adapt on")
    names = list(model.identifiers or [BLANK_IDENTIFIER] * config.num_puzzle_identifiers)
    if task_id in task_views(names):
        raise TrmsolveError(f"task {task_id}: the model already knows it")
    if start not in ("nearest", "zeros"):
        raise TrmsolveError(f"unknown start {start!r} (known: nearest, zeros)")
    versions = augment_pairs(task_id, pairs, views - 1, seed)
    examples = [(view, *(version.apply(g) for g in pair)) for view, version in enumerate(versions) for pair in pairs]
    ids = torch.tensor([view for view, _, _ in examples], device=model.device)
    rng = np.random.RandomState(seed)
    started = time.perf_counter()

    table = model.puzzle_emb
    rows = PuzzleEmbedding(len(versions), config.puzzle_emb_ndim).to(model.device, table.weights.dtype)  # zeros
    started_from = ["zeros"] * len(versions)
    bf16 = use_bf16(model, bf16)
    if start == "nearest" and any(name != BLANK_IDENTIFIER for name in names):
        demonstrations = [[(i, o) for v, i, o in examples if v == view] for view in range(len(versions))]
        tried = None if progress is None else lambda share: progress(0, steps, share)
        nearest = nearest_rows(model, demonstrations, bf16=bf16, progress=tried)
        rows.weights.data.copy_(table.weights.detach()[nearest])
        started_from = [names[number] for number in nearest]
    frozen = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    model.puzzle_emb = rows  # the new rows alone: no gradient buffer the size of the whole table
    optimizer = SignSGD(rows.weights, lr, weight_decay)
    autocast = torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16)
    start_seconds = time.perf_counter() - started
    losses: list[float] = []
    exact = torch.zeros(len(examples), dtype=torch.bool)
    try:
        for step in range(steps):
            if step % config.halt_max_steps == 0:
                inputs, labels = _canvas_batch(examples, len(versions), rng, model.device)
                labels[labels == 0] = IGNORE_LABEL  # PAD is not predicted
                carry = model.initial_carry(len(examples))
                losses = []
            with autocast:
                out = model(carry, inputs, ids)
            valid = labels != IGNORE_LABEL
            counts = valid.sum(-1)
            exact = (((out.logits.argmax(-1) == labels) | ~valid).all(-1)).detach().cpu()
            lm_loss = (token_losses(out.logits, labels, "stablemax") / counts.unsqueeze(-1)).sum()
            target = exact.float().to(model.device)
            q_loss = F.binary_cross_entropy_with_logits(out.q_halt_logits, target, reduction="sum")
            loss = (lm_loss + 0.5 * q_loss) / len(examples)
            loss.backward()
            optimizer.step(1.0)
            carry = Carry(out.carry.z_H.detach(), out.carry.z_L.detach())
            losses.append(loss.item())
            if progress is not None:
                progress(step + 1, steps, losses[-1])
    finally:
        model.puzzle_emb = table
        for name, p in model.named_parameters():
            p.requires_grad_(frozen.get(name, False))
    table.weights = torch.nn.Parameter(
        torch.cat([table.weights.detach(), rows.weights.detach().to(table.weights.dtype)]),
        requires_grad=frozen["puzzle_emb.weights"],
    )
    config.num_puzzle_identifiers = table.weights.shape[0]
    model.identifiers = names + [version.name for version in versions]
    return AdaptResult(
        task_id=task_id,
        views=len(versions),
        steps=steps,
        seconds=time.perf_counter() - started,
        start_seconds=start_seconds,
        loss=float(np.mean(losses)) if losses else float("nan"),
        demo_exact=float(exact.float().mean()),
        started_from=started_from,
    )


MAX_NEAREST_CANDIDATES = 512  # known embeddings tried as an adapted row's start; bounds the time before step 1


def use_bf16(model: RecursiveReasoningModel, bf16: bool | None) -> bool:
    """Whether to autocast to bfloat16: as asked, or (None) where the model's device runs it natively."""
    from trmsolve.hardware import native_bf16

    if bf16 is None:
        bf16 = native_bf16(model.device)
    return bf16 and model.device.type in ("cpu", "cuda")


def nearest_rows(
    model: RecursiveReasoningModel,
    demonstrations: Sequence[Sequence[Pair]],
    *,
    pairs: int = 2,
    batch_size: int = 64,
    bf16: bool | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[int]:
    """For each list of demonstration pairs, the known puzzle identifier (not the blank one) whose
    embedding predicts their outputs best after one step: least stablemax loss per token over the first
    `pairs` pairs, at the canvas origin. One forward step per (identifier, pair), batched. A map of more
    than MAX_NEAREST_CANDIDATES identifiers offers each task's plain version only, so the time this takes
    stays bounded (a published map has ~1,000 augmented versions of every task). `progress(share)` after each
    batch: the share of the work done."""
    import torch

    from trmsolve.network import Carry
    from trmsolve.train import IGNORE_LABEL, token_losses

    names = model.identifiers or [BLANK_IDENTIFIER] * model.config.num_puzzle_identifiers
    known = [number for number, name in enumerate(names) if name != BLANK_IDENTIFIER]
    if len(known) > MAX_NEAREST_CANDIDATES:  # a published map: ~1,000 versions a task; each task's plain one
        known = [n for n in known if parse_identifier(names[n]).task == names[n]][:MAX_NEAREST_CANDIDATES]
    known = torch.tensor(known)
    bf16 = use_bf16(model, bf16)
    best = []
    for done, demos in enumerate(demonstrations):
        demos = list(demos)[:pairs]
        inputs = torch.from_numpy(np.stack([grid_to_tokens(i) for i, _ in demos])).long().to(model.device)
        labels = torch.from_numpy(np.stack([grid_to_tokens(o) for _, o in demos])).long().to(model.device)
        labels[labels == 0] = IGNORE_LABEL
        per_token = 1.0 / (labels != IGNORE_LABEL).sum(-1)
        losses = []
        for chunk in known.split(max(1, batch_size // len(demos))):
            ids = chunk.repeat_interleave(len(demos)).to(model.device)
            carry: Carry = model.initial_carry(len(ids))
            with torch.no_grad(), torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(carry, inputs.repeat(len(chunk), 1), ids).logits
            loss = token_losses(logits.float(), labels.repeat(len(chunk), 1), "stablemax").sum(-1)
            losses.append((loss * per_token.repeat(len(chunk))).view(len(chunk), len(demos)).mean(-1))
            if progress is not None:
                progress((done + sum(len(tried) for tried in losses) / len(known)) / len(demonstrations))
        best.append(int(known[int(torch.cat(losses).argmin())]))
    return best


def _canvas_batch(
    examples: Sequence[tuple[int, np.ndarray, np.ndarray]], views: int, rng: np.random.RandomState, device: Any
) -> tuple[Any, Any]:
    """Input and label tokens of (view, input, output) examples; per view one stays at the origin and the
    others move to random offsets, as in the builder's training split."""
    import torch

    kept = {view: rng.randint(0, sum(v == view for v, _, _ in examples)) for view in range(views)}
    seen = dict.fromkeys(range(views), 0)
    inputs, labels = [], []
    for view, inp, out in examples:
        offset = (0, 0) if seen[view] == kept[view] else random_offset(inp, out, rng)
        seen[view] += 1
        inputs.append(grid_to_tokens(inp, offset))
        labels.append(grid_to_tokens(out, offset))
    return (
        torch.from_numpy(np.stack(inputs)).long().to(device),
        torch.from_numpy(np.stack(labels)).long().to(device),
    )

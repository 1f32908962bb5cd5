"""ARC-AGI grids as tokens, their augmentations, and a dataset builder equal to the published one.

Published checkpoints were trained on data made by the published builder (SamsungSAILMontreal/
TinyRecursiveModels `dataset/build_arc_dataset.py` with `dataset/common.py`, the same as sapientinc/HRM's)
and scored by the published evaluator (`evaluators/arc.py`). A checkpoint only understands its puzzle
identifiers through that builder's `identifiers.json`, so the solver needs the same names, transforms and
token layout, and this module reproduces them. Written from reading that code, not copied.

Reproduced exactly:
- Tokens: a grid of h x w goes to the top-left of a 30 x 30 canvas as colour + 2, with a row of EOS (1)
  below it under its columns and a column of EOS right of it beside its rows; the corner stays PAD (0).
  Training examples may be shifted by an offset. Decoding crops the largest top-left rectangle of colour
  tokens (first largest in row order), as the evaluator's `_crop` does; it knows nothing of offsets.
- Dihedral transforms 0..7 (identity, rot90 x1..3, fliplr, flipud, transpose, fliplr(rot90)) and their
  inverses; colour permutations that map colour c to perm[c]; an augmentation recolours, then transforms.
- Identifier names `"<task>|||t<k>|||<perm>"`; the plain task name is the un-augmented task.
- `grid_hash`: SHA-256 hex of the two side lengths as bytes followed by the uint8 cells, row-major.
- `build_arc_dataset`: the files, their bytes and the random stream. The stream is the legacy MT19937 one
  that `np.random.seed(seed)` starts (a `RandomState(seed)` here, so the global one is left alone), drawn
  in the published order: per subset one shuffle of its tasks in file order; per task and augmentation
  trial a transform id `randint(0, 8)` then a permutation of colours 1..9; then while writing, per split
  and puzzle a `randint` choosing the example left at the origin, and for every other training-split
  example a row then a column offset. Augmentations are kept when the SHA-256 of the sorted per-example
  hashes (over all splits) is new, trying at most 5 x num_aug times.

Deliberate differences, none of which changes the output where the published output is defined:
- The published code walks a Python `set` of splits when it first files a task, so when the first task of
  the first subset belongs to a test set, whether `train/` or `test/` is processed first (and so the
  identifier numbers and the random stream) depends on PYTHONHASHSEED. Here `train` always comes first,
  which is what the published code does whenever the first subset is not a test set (as in its commands).
- Bad input raises `ValueError` naming the file or task instead of failing an assert; grids must be
  1..30 on each side (the published check lets a zero-width grid through).
- Progress goes to `logging` instead of `print`; a short augmentation is also returned in the report.

No torch here: the solver and the puzzle kind import this at start-up.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

log = logging.getLogger(__name__)

GRID_SIZE = 30
SEQ_LEN = GRID_SIZE * GRID_SIZE
PAD_TOKEN = 0
EOS_TOKEN = 1
COLOUR_OFFSET = 2  # token of colour c
NUM_COLOURS = 10
VOCAB_SIZE = COLOUR_OFFSET + NUM_COLOURS
ID_SEPARATOR = "|||"
BLANK_IDENTIFIER = "<blank>"  # name of identifier 0 (and of any number below the start)
AUGMENT_RETRIES_FACTOR = 5
IDENTITY_PERM: tuple[int, ...] = tuple(range(NUM_COLOURS))

_DIHEDRAL: tuple[Callable[[np.ndarray], np.ndarray], ...] = (
    lambda g: g,
    lambda g: np.rot90(g, 1),
    lambda g: np.rot90(g, 2),
    lambda g: np.rot90(g, 3),
    np.fliplr,
    np.flipud,
    np.transpose,
    lambda g: np.fliplr(np.rot90(g, 1)),
)
DIHEDRAL_INVERSE: tuple[int, ...] = (0, 3, 2, 1, 4, 5, 6, 7)  # transform id -> id of its inverse


def dihedral_transform(grid: np.ndarray, trans_id: int) -> np.ndarray:
    """`grid` under dihedral transform `trans_id` (0..7, numbered as published); may be a view."""
    if not 0 <= trans_id < len(_DIHEDRAL):
        raise ValueError(f"dihedral transform id must be 0..7, not {trans_id}")
    return _DIHEDRAL[trans_id](grid)


def inverse_dihedral_transform(grid: np.ndarray, trans_id: int) -> np.ndarray:
    """Undo `dihedral_transform(grid, trans_id)`."""
    if not 0 <= trans_id < len(_DIHEDRAL):
        raise ValueError(f"dihedral transform id must be 0..7, not {trans_id}")
    return _DIHEDRAL[DIHEDRAL_INVERSE[trans_id]](grid)


def apply_colour_permutation(grid: np.ndarray, perm: Sequence[int]) -> np.ndarray:
    """`grid` with every colour c replaced by perm[c], as uint8."""
    return np.asarray(perm, dtype=np.uint8)[grid]


def invert_colour_permutation(perm: Sequence[int]) -> tuple[int, ...]:
    """The permutation that undoes `perm`."""
    return tuple(int(c) for c in np.argsort(np.asarray(perm)))


class Augmentation(NamedTuple):
    """One augmented version of a task, as named in `identifiers.json`: (task, k, perm)."""

    task: str
    trans_id: int = 0
    perm: tuple[int, ...] = IDENTITY_PERM

    @property
    def is_identity(self) -> bool:
        return self.trans_id == 0 and self.perm == IDENTITY_PERM

    @property
    def name(self) -> str:
        """The identifier name; the plain task name for the identity (the builder never keeps an augmented
        version equal to the original, so no kept version is named `t0` with the identity permutation)."""
        if self.is_identity:
            return self.task
        digits = "".join(str(c) for c in self.perm)
        return f"{self.task}{ID_SEPARATOR}t{self.trans_id}{ID_SEPARATOR}{digits}"

    def apply(self, grid: np.ndarray) -> np.ndarray:
        """The task's grid as this version shows it (recolour, then transform)."""
        return dihedral_transform(apply_colour_permutation(grid, self.perm), self.trans_id)

    def invert(self, grid: np.ndarray) -> np.ndarray:
        """A grid of this version (e.g. a prediction) back in the original task's frame and colours."""
        return apply_colour_permutation(
            inverse_dihedral_transform(grid, self.trans_id), invert_colour_permutation(self.perm)
        )


def parse_identifier(name: str) -> Augmentation:
    """Split an identifier name `"<task>|||t<k>|||<perm>"` (or a plain task name) into its parts."""
    parts = name.split(ID_SEPARATOR)
    if len(parts) == 1:
        return Augmentation(name)
    if len(parts) == 3:
        task, trans, digits = parts
        if (
            task
            and len(trans) == 2
            and trans[0] == "t"
            and trans[1] in "01234567"
            and sorted(digits) == [str(c) for c in IDENTITY_PERM]
        ):
            return Augmentation(task, int(trans[1]), tuple(int(c) for c in digits))
    raise ValueError(f"not an ARC puzzle identifier: {name!r} (expected '<task>|||t<0..7>|||<10 digits>')")


def grid_problem(grid: np.ndarray) -> str | None:
    """Why `grid` is not an ARC grid (2-D, 1..30 per side, integer colours 0..9), or None when it is one."""
    if grid.ndim != 2:
        return f"a grid must be 2-D, not {grid.ndim}-D"
    h, w = grid.shape
    if h == 0 or w == 0:
        return "empty grid"
    if h > GRID_SIZE or w > GRID_SIZE:
        return f"grid of {h}x{w}; each side must be 1..{GRID_SIZE}"
    if grid.dtype.kind not in "iu":
        return "colours must be integers 0..9"
    if grid.min() < 0 or grid.max() >= NUM_COLOURS:
        return "colours must be 0..9"
    return None


def grid_from_json(value: Any) -> np.ndarray:
    """A grid as JSON gives it (a list of rows of colours) as uint8 [h, w]; ValueError says what is wrong."""
    if not isinstance(value, list) or not value or not all(isinstance(row, list) for row in value):
        raise ValueError("a grid must be a non-empty list of rows")
    if any(len(row) != len(value[0]) for row in value):
        raise ValueError("grid rows differ in length")
    if not all(type(v) is int and 0 <= v < NUM_COLOURS for row in value for v in row):  # bool is no colour
        raise ValueError("colours must be integers 0..9")
    grid = np.array(value, dtype=np.uint8)
    problem = grid_problem(grid)
    if problem:
        raise ValueError(problem)
    return grid


def grid_hash(grid: np.ndarray) -> str:
    """SHA-256 hex of a grid as the published builder and evaluator compute it (used to match grids)."""
    cells = np.ascontiguousarray(grid, dtype=np.uint8)
    return hashlib.sha256(bytes(cells.shape) + cells.tobytes()).hexdigest()


def grid_to_tokens(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The 900 uint8 tokens of `grid` placed at `offset` (row, column) with its EOS row and column."""
    h, w = grid.shape
    r, c = offset
    if r < 0 or c < 0 or r + h > GRID_SIZE or c + w > GRID_SIZE:
        raise ValueError(f"a {h}x{w} grid at offset {offset} does not fit the {GRID_SIZE}x{GRID_SIZE} canvas")
    canvas = np.zeros((GRID_SIZE, GRID_SIZE), dtype=np.uint8)
    canvas[r : r + h, c : c + w] = grid + COLOUR_OFFSET
    if r + h < GRID_SIZE:
        canvas[r + h, c : c + w] = EOS_TOKEN
    if c + w < GRID_SIZE:
        canvas[r : r + h, c + w] = EOS_TOKEN
    return canvas.reshape(-1)


def tokens_to_grid(tokens: np.ndarray) -> np.ndarray:
    """The grid in 900 tokens: the largest top-left rectangle of colour tokens, uint8 (possibly 0x0)."""
    canvas = np.asarray(tokens).reshape(GRID_SIZE, GRID_SIZE)
    is_colour = (canvas >= COLOUR_OFFSET) & (canvas < VOCAB_SIZE)
    # Colour run from the left edge of each row, then the widest rectangle reaching down to each row.
    runs = np.where(is_colour.all(axis=1), GRID_SIZE, np.argmin(is_colour, axis=1))
    widths = np.minimum.accumulate(runs)
    areas = widths * np.arange(1, GRID_SIZE + 1)
    rows = int(np.argmax(areas)) + 1 if areas.max() > 0 else 0
    cols = int(widths[rows - 1]) if rows else 0
    return (canvas[:rows, :cols] - COLOUR_OFFSET).astype(np.uint8)


# ---- the dataset builder ----

Pair = tuple[np.ndarray, np.ndarray]


@dataclass
class _Task:
    """A task's examples by output split: "train" always, plus "test" when its subset is a test set."""

    name: str
    examples: dict[str, list[Pair]]


@dataclass
class ArcBuildReport:
    """What `build_arc_dataset` made, for the caller to show."""

    num_tasks: int
    num_identifiers: int  # including <blank>, as dataset.json counts them
    short_augmentations: dict[str, int] = field(default_factory=dict)  # task -> versions, when < num_aug + 1
    identifiers: list[str] = field(default_factory=list)  # identifiers.json: the name of each number


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def _load_subset(prefix: str, subset: str) -> dict[str, Any]:
    """A subset's tasks in file order, with the test outputs taken from its solutions file when it exists
    and otherwise defaulting to [[0]] (as published, so that unsolved test sets can still be built)."""
    challenges_path = Path(f"{prefix}_{subset}_challenges.json")
    tasks = _read_json(challenges_path)
    if not isinstance(tasks, dict):
        raise ValueError(f"{challenges_path}: expected a JSON object mapping task ids to tasks")
    for task_id, task in tasks.items():
        tests = task.get("test") if isinstance(task, dict) else None
        if not isinstance(tests, list) or not all(isinstance(example, dict) for example in tests):
            raise ValueError(f"{challenges_path}: task {task_id} has no 'test' list of examples")
    solutions_path = Path(f"{prefix}_{subset}_solutions.json")
    if solutions_path.is_file():
        solutions = _read_json(solutions_path)
        for task_id, task in tasks.items():
            outputs = solutions.get(task_id) if isinstance(solutions, dict) else None
            if not isinstance(outputs, list) or len(outputs) > len(task["test"]):
                raise ValueError(f"{solutions_path}: no matching list of test outputs for task {task_id}")
            for index, output in enumerate(outputs):
                task["test"][index]["output"] = output
    else:
        log.warning("%s not found: test outputs of %s filled with [[0]]", solutions_path, subset)
        for task in tasks.values():
            for example in task["test"]:
                example.setdefault("output", [[0]])
    return tasks


def _convert_task(name: str, task: Any, test_split: str) -> _Task:
    """Grids of a task by split, in the file's key order (it decides the order of examples in a split)."""
    if not isinstance(task, dict):
        raise ValueError(f"task {name}: expected an object with 'train' and 'test'")
    examples: dict[str, list[Pair]] = {"train": [], test_split: []}
    for key, pairs in task.items():
        if key not in ("train", "test") or not isinstance(pairs, list):
            raise ValueError(f"task {name}: unexpected entry {key!r}; a task has 'train' and 'test' lists")
        split = "train" if key == "train" else test_split
        for index, pair in enumerate(pairs):
            try:
                examples[split].append((grid_from_json(pair["input"]), grid_from_json(pair["output"])))
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"task {name}, {key} example {index}: {e}") from None
    return _Task(name, examples)


def _examples_hash(task: _Task, version: Augmentation) -> str:
    """Identity of a version's examples over all splits, ignoring their order and split."""
    hashes = sorted(
        f"{grid_hash(version.apply(inp))}|{grid_hash(version.apply(out))}"
        for pairs in task.examples.values()
        for inp, out in pairs
    )
    return hashlib.sha256("|".join(hashes).encode()).hexdigest()


def _augment(task: _Task, num_aug: int, rng: np.random.RandomState) -> list[Augmentation]:
    """The original plus up to `num_aug` random versions whose examples differ from all kept ones."""
    versions = [Augmentation(task.name)]
    if num_aug <= 0:
        return versions
    seen = {_examples_hash(task, versions[0])}
    for _trial in range(AUGMENT_RETRIES_FACTOR * num_aug):
        trans_id = int(rng.randint(0, 8))
        shuffled = rng.permutation(np.arange(1, NUM_COLOURS, dtype=np.uint8))  # 0 (black) stays
        version = Augmentation(task.name, trans_id, (0, *(int(c) for c in shuffled)))
        digest = _examples_hash(task, version)
        if digest not in seen:
            seen.add(digest)
            versions.append(version)
        if len(versions) > num_aug:
            break
    return versions


def augment_pairs(name: str, pairs: Sequence[Pair], num_aug: int, seed: int) -> list[Augmentation]:
    """The task itself and up to `num_aug` random versions with distinct examples, chosen as the builder
    chooses them (for a task the model never saw, whose versions no data set numbered)."""
    return _augment(_Task(name, {"train": list(pairs)}), num_aug, np.random.RandomState(seed))


def random_offset(inp: np.ndarray, out: np.ndarray, rng: np.random.RandomState) -> tuple[int, int]:
    """Where a training pair goes on the canvas: one offset for both grids, so that both fit."""
    row = int(rng.randint(0, GRID_SIZE - max(inp.shape[0], out.shape[0]) + 1))
    col = int(rng.randint(0, GRID_SIZE - max(inp.shape[1], out.shape[1]) + 1))
    return row, col


def _write_split(
    directory: Path,
    split: str,
    groups: list[tuple[_Task, list[Augmentation]]],
    identifiers: dict[str, int],
    num_identifiers: int,
    rng: np.random.RandomState,
) -> None:
    """One split's arrays and dataset.json; training examples but one per puzzle are shifted at random."""
    translate = split == "train"
    num_examples = sum(len(task.examples[split]) * len(versions) for task, versions in groups)
    inputs = np.empty((num_examples, SEQ_LEN), dtype=np.uint8)
    labels = np.empty((num_examples, SEQ_LEN), dtype=np.uint8)
    puzzle_identifiers: list[int] = []
    puzzle_indices = [0]
    group_indices = [0]
    row = 0
    for task, versions in groups:
        pairs = task.examples[split]
        if not pairs:
            raise ValueError(f"task {task.name}: no examples for the {split} split")
        for version in versions:
            kept_in_place = rng.randint(0, len(pairs))
            for index, (inp, out) in enumerate(pairs):
                inp, out = version.apply(inp), version.apply(out)
                offset = random_offset(inp, out, rng) if translate and index != kept_in_place else (0, 0)
                inputs[row] = grid_to_tokens(inp, offset)
                labels[row] = grid_to_tokens(out, offset)
                row += 1
            puzzle_indices.append(row)
            puzzle_identifiers.append(identifiers[version.name])
        group_indices.append(len(puzzle_identifiers))

    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "inputs": inputs,
        "labels": labels,
        "puzzle_identifiers": np.array(puzzle_identifiers, dtype=np.int32),
        "puzzle_indices": np.array(puzzle_indices, dtype=np.int32),
        "group_indices": np.array(group_indices, dtype=np.int32),
    }
    for key, array in arrays.items():
        np.save(directory / f"all__{key}.npy", array)
    metadata = {  # field order of the published PuzzleDatasetMetadata
        "pad_id": PAD_TOKEN,
        "ignore_label_id": PAD_TOKEN,
        "blank_identifier_id": 0,
        "vocab_size": VOCAB_SIZE,
        "seq_len": SEQ_LEN,
        "num_puzzle_identifiers": num_identifiers,
        "total_groups": len(groups),
        "mean_puzzle_examples": num_examples / len(puzzle_identifiers),
        "total_puzzles": len(puzzle_identifiers),
        "sets": ["all"],
    }
    _write_json(directory / "dataset.json", metadata)


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")  # json.dump's default formatting, as published


@dataclass
class _Plan:
    """What the builder decided before writing: tasks and versions by split, identifier numbers, test tasks."""

    splits: dict[str, list[tuple[_Task, list[Augmentation]]]]
    identifiers: dict[str, int]
    test_puzzles: dict[str, Any]
    report: ArcBuildReport


def _plan(
    input_file_prefix: str | Path,
    subsets: Iterable[str],
    test_sets: set[str],
    num_aug: int,
    puzzle_identifiers_start: int,
    tasks: Collection[str] | None,
    rng: np.random.RandomState,
) -> _Plan:
    """Read, shuffle and augment every subset's tasks and number the identifiers, drawing from `rng` in the
    published order. The identifiers depend on nothing drawn later, so they can be made without writing."""
    splits: dict[str, list[tuple[_Task, list[Augmentation]]]] = {}
    test_puzzles: dict[str, Any] = {}
    report = ArcBuildReport(num_tasks=0, num_identifiers=0)
    missing = set(tasks) if tasks is not None else set()
    for subset in subsets:
        items = list(_load_subset(str(input_file_prefix), subset).items())
        if tasks is not None:
            items = [(name, raw) for name, raw in items if name in tasks]
            missing -= {name for name, _raw in items}
        rng.shuffle(items)
        test_split = "test" if subset in test_sets else "train"
        for name, raw in items:
            task = _convert_task(name, raw, test_split)
            if test_split == "test":
                test_puzzles[name] = raw
            versions = _augment(task, num_aug, rng)
            if num_aug > 0 and len(versions) <= num_aug:
                log.warning("task %s: only %d distinct versions", name, len(versions))
                report.short_augmentations[name] = len(versions)
            for split in task.examples:
                splits.setdefault(split, []).append((task, versions))
            report.num_tasks += 1
    if missing:
        raise ValueError(f"tasks not found in subsets {', '.join(subsets)}: {', '.join(sorted(missing))}")

    identifiers: dict[str, int] = {}
    for groups in splits.values():
        for _task, versions in groups:
            for version in versions:
                identifiers.setdefault(version.name, puzzle_identifiers_start + len(identifiers))
    report.num_identifiers = puzzle_identifiers_start + len(identifiers)
    names = {number: name for name, number in identifiers.items()}
    report.identifiers = [names.get(number, BLANK_IDENTIFIER) for number in range(report.num_identifiers)]
    return _Plan(splits, identifiers, test_puzzles, report)


def build_arc_dataset(
    input_file_prefix: str | Path,
    output_dir: str | Path | None,
    subsets: Iterable[str],
    test_set_name: str,
    test_set_name2: str = "evaluation2",
    seed: int = 42,
    num_aug: int = 1000,
    puzzle_identifiers_start: int = 1,
    tasks: Collection[str] | None = None,
) -> ArcBuildReport:
    """Write the published ARC training data set for the Kaggle-layout task files
    `<input_file_prefix>_<subset>_challenges.json` (+ `_solutions.json`) into `output_dir`.

    Arguments mean what the published builder's options mean: the test examples of tasks in
    `test_set_name` or `test_set_name2` go to `test/` (their training examples still go to `train/`),
    everything else to `train/`; identifiers are numbered from `puzzle_identifiers_start`.
    Ours, not published: `tasks` keeps only the tasks with those ids, before each subset's shuffle, so the
    random stream and the output are those of task files holding only them; `output_dir=None` writes
    nothing and only reports, with the identifier names (a published checkpoint's map: the full data set
    would take gigabytes, and the names depend on nothing drawn while writing).
    Raises ValueError on unreadable or malformed task files, or task ids that no subset holds.
    """
    rng = np.random.RandomState(seed)
    subsets = list(subsets)
    plan = _plan(
        input_file_prefix, subsets, {test_set_name, test_set_name2}, num_aug, puzzle_identifiers_start, tasks, rng
    )
    if output_dir is None:
        return plan.report
    output = Path(output_dir)
    for split, groups in plan.splits.items():
        _write_split(output / split, split, groups, plan.identifiers, plan.report.num_identifiers, rng)
    _write_json(output / "identifiers.json", plan.report.identifiers)
    _write_json(output / "test_puzzles.json", plan.test_puzzles)
    log.info("%d tasks, %d puzzle identifiers (with <blank>)", plan.report.num_tasks, plan.report.num_identifiers)
    return plan.report

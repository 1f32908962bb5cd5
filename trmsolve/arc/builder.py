"""The ARC-AGI data set builder, equal to the published one (SamsungSAILMontreal/TinyRecursiveModels
`dataset/build_arc_dataset.py` with `dataset/common.py`, the same as sapientinc/HRM's). A checkpoint only
understands its puzzle identifiers through that builder's `identifiers.json`, so this reproduces its names,
transforms and token layout (`trmsolve.kinds.arc_grids`). Written from reading that code, not copied.

Reproduced exactly:
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
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trmsolve.kinds.arc_grids import (
    BLANK_IDENTIFIER,
    GRID_SIZE,
    NUM_COLOURS,
    PAD_TOKEN,
    SEQ_LEN,
    VOCAB_SIZE,
    Augmentation,
    grid_from_json,
    grid_hash,
    grid_to_tokens,
)

log = logging.getLogger(__name__)
AUGMENT_RETRIES_FACTOR = 5


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

"""The views a model knows of an ARC task: the identifiers of its augmented versions, which tasks a model
knows, how many views a vote takes, and task lists."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.errors import TrmsolveError
from trmsolve.kinds.arc_grids import BLANK_IDENTIFIER, Augmentation, parse_identifier

if TYPE_CHECKING:
    from trmsolve.kinds import Puzzle
    from trmsolve.network import RecursiveReasoningModel


# ------------------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class View:
    """One augmented version of a task as the model knows it: its puzzle identifier and augmentation."""

    identifier: int
    augmentation: Augmentation


def task_fingerprint(pairs: Sequence[Any]) -> str:
    """A task's identity by content: a hash of its demonstration pairs, whatever its file is called."""

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

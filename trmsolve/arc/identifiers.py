"""Identifier maps for published ARC checkpoints, which come without one.

`attach_identifier_map` rebuilds the map from the public task files with the published builder settings (it
takes a few minutes) and caches it under `$TRMSOLVE_CACHE` (default `~/.cache/trmsolve`) in
`arc-maps/<key>/identifiers.json`, the key hashing the settings and the task files' contents.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trmsolve.arc.builder import build_arc_dataset
from trmsolve.arc.views import task_views
from trmsolve.errors import TrmsolveError

if TYPE_CHECKING:
    from trmsolve.network import RecursiveReasoningModel

DATA_PREFIX = "arc-agi"  # Kaggle layout: <dir>/arc-agi_<subset>_challenges.json (+ _solutions.json)
CACHE_ENV = "TRMSOLVE_CACHE"


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

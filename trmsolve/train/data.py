"""Training data: a split's token arrays, read from the published CSV layout or the ARC builder's arrays, and
the sampler that deals shuffled, augmented batches from a shard of it."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trmsolve.errors import TrmsolveError
from trmsolve.kinds import KINDS, get_kind
from trmsolve.loss import IGNORE_LABEL


@dataclass
class TrainData:
    """Token arrays of one split plus the task's augmentation (a function of a batch and an RNG)."""

    inputs: np.ndarray  # [N, seq_len]
    labels: np.ndarray  # [N, seq_len], IGNORE_LABEL where there is nothing to predict
    puzzle_identifiers: np.ndarray  # [N]
    ratings: np.ndarray  # [N]
    augment: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
    identifiers: list[str] | None = None  # ARC: identifier names, index = id
    symmetries: tuple[str, ...] = ()  # the transform families `augment` draws from (recorded in the model)
    question_token: int | None = None  # input token of the cells the answer decides (None: every cell)

    def __len__(self) -> int:
        return len(self.inputs)


def load_data(task: str, path: str) -> TrainData:
    """Read a split: the published CSV layout for Sudoku and Maze, the ARC builder's arrays for ARC."""
    if task not in KINDS:
        raise TrmsolveError(f"unknown task {task!r} (known: {', '.join(KINDS)})")
    data_module = get_kind(task).data_module
    if data_module is not None:
        module = importlib.import_module(data_module)
        inputs, labels, ratings = module.load_tokens(path)
        ids = np.zeros(len(inputs), dtype=np.int64)
        return TrainData(
            inputs,
            labels,
            ids,
            ratings,
            module.augment,
            symmetries=module.SYMMETRIES,
            question_token=module.QUESTION_TOKEN,
        )
    # The ARC builder's arrays: one row per example; its puzzle's identifier comes from puzzle_indices (example
    # ranges per puzzle).
    root = Path(path)
    arrays = {k: np.load(root / f"all__{k}.npy") for k in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices")}
    ids = np.repeat(arrays["puzzle_identifiers"], np.diff(arrays["puzzle_indices"]))
    labels = arrays["labels"].astype(np.int64)
    labels[labels == 0] = IGNORE_LABEL  # PAD is not predicted, as published (ignore_label_id 0)
    names_file = root.parent / "identifiers.json"
    names = json.loads(names_file.read_text()) if names_file.exists() else None
    return TrainData(arrays["inputs"].astype(np.int64), labels, ids, np.zeros(len(ids), np.int64), None, names)


class BatchSampler:
    """Endless shuffled epochs over a data shard, augmented on the fly; its state resumes exactly."""

    def __init__(self, data: TrainData, batch_size: int, seed: int, augment: bool, rank: int = 0, world: int = 1):
        self.data, self.batch_size, self.augment = data, batch_size, augment and data.augment is not None
        self.rng = np.random.default_rng([seed, rank])
        self.shard = np.arange(rank, len(data), world)
        self.order = self.rng.permutation(self.shard)
        self.cursor = 0
        self.epoch = 0

    def next(self) -> dict[str, torch.Tensor]:
        take, count = [], 0
        while count < self.batch_size:
            if self.cursor >= len(self.order):
                self.order, self.cursor, self.epoch = self.rng.permutation(self.shard), 0, self.epoch + 1
            n = min(self.batch_size - count, len(self.order) - self.cursor)
            take.append(self.order[self.cursor : self.cursor + n])
            self.cursor, count = self.cursor + n, count + n
        index = np.concatenate(take)
        inputs, labels = self.data.inputs[index], self.data.labels[index]
        if self.augment:
            inputs, labels = self.data.augment(inputs, labels, self.rng)
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs)).long(),
            "labels": torch.from_numpy(np.ascontiguousarray(labels)).long(),
            "puzzle_identifiers": torch.from_numpy(self.data.puzzle_identifiers[index]).long(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "order": torch.from_numpy(self.order),
            "cursor": self.cursor,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume mid-epoch; a run resumed on other data (a curriculum's next stage) starts a fresh epoch."""
        self.rng.bit_generator.state = state["rng"]
        order = state["order"].numpy()
        if np.array_equal(np.sort(order), self.shard):
            self.order, self.cursor, self.epoch = order, state["cursor"], state["epoch"]
        else:
            self.order, self.cursor, self.epoch = self.rng.permutation(self.shard), 0, state["epoch"] + 1

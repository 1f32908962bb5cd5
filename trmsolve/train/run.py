"""One call that trains or continues the run in a directory (`trmsolve train`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path

import torch

from trmsolve.train.config import ADJUSTABLE_FIELDS, SESSION_FIELDS, TrainConfig
from trmsolve.train.trainer import Trainer


def train(
    config: TrainConfig,
    *,
    resume: bool = True,
    changed: Collection[str] = ADJUSTABLE_FIELDS,
    log: Callable[[str], None] = print,
) -> Trainer:
    """Train (or continue training) the run in `config.out` until its time or step budget.

    A resumed run keeps its saved settings (architecture, optimiser, schedule, seed) except the session fields
    and the `changed` ones: the CLI passes only the options a user typed, so resuming without `--total-steps`
    keeps the run's learning-rate schedule instead of the option's default.
    """
    out = Path(config.out)
    ckpt = out / "checkpoint.pt"
    resumed = resume and ckpt.exists()
    if resumed:
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)["config"]
        keep = {k: getattr(config, k) for k in (*SESSION_FIELDS, *(f for f in ADJUSTABLE_FIELDS if f in changed))}
        config = TrainConfig.from_dict({**saved, **keep})
    trainer = Trainer(config, log=log)
    if resumed:
        trainer.load(ckpt)
        log(f"resumed {ckpt} at step {trainer.step}")
    if config.max_minutes != 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))
        trainer.run()
    elif resumed:  # only loaded (e.g. to export): the run's record and settings stay its own
        trainer.trained_with = TrainConfig.from_dict(saved)
    return trainer

"""Training: the published TRM/HRM recipe, on a CPU or GPUs, resumable, data parallel under torchrun.

The recipe (TRM paper, section 4 and the published `pretrain.py`):
- deep supervision: a batch of B slots, each holding one puzzle and its carry (z_H, z_L). Every optimiser
  step runs one ACT step for all slots and backpropagates through that step only; the carry is kept for
  the next optimiser step. A slot whose puzzle halted is refilled with a new puzzle and a fresh carry.
- ACT: a puzzle halts at q_halt > 0 (or q_halt > q_continue) or after halt_max_steps; with probability
  halt_exploration_prob it must first run a random 2..halt_max_steps steps.
- loss per step: stablemax (or softmax) cross-entropy averaged over each puzzle's label positions,
  summed over the batch, plus 0.5 x BCE(q_halt, puzzle exactly right) (and the continue target's BCE
  when no_ACT_continue is false), divided by the batch size.
- AdamW (0.9, 0.95) with linear warmup and cosine decay; sign-SGD for puzzle embeddings; an EMA of the
  weights is what gets evaluated and exported.
With dtype bfloat16 (what `auto` picks on hardware with native bf16 matmuls) autocast runs the matmuls in
bfloat16; master weights stay float32. A run can start from a trained model's weights (`init`) with a fresh
optimiser and schedule: that is how training continues on another machine from the shipped weights.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path

import torch

from trmsolve.train.config import ADJUSTABLE_FIELDS, SESSION_FIELDS, TrainConfig, default_model_config
from trmsolve.train.data import TrainData, load_data
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


__all__ = ["ADJUSTABLE_FIELDS", "TrainConfig", "TrainData", "Trainer", "default_model_config", "load_data", "train"]

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


Importing `trmsolve.train` (or its `config`) does not import torch: the trainer loads when it is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from trmsolve.train.config import ADJUSTABLE_FIELDS, CPU_MODEL, TrainConfig, default_model_config, run_default

_LAZY = {
    "Trainer": "trmsolve.train.trainer",
    "TrainData": "trmsolve.train.data",
    "load_data": "trmsolve.train.data",
    "train": "trmsolve.train.run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trmsolve.train' has no attribute {name!r}")


__all__ = [
    "ADJUSTABLE_FIELDS",
    "CPU_MODEL",
    "TrainConfig",
    "TrainData",
    "Trainer",
    "default_model_config",
    "load_data",
    "run_default",
    "train",
]

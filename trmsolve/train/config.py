"""What defines a training run: `TrainConfig` (stored in the run directory), the learning-rate schedule, the
CPU-sized default model of each kind, and which settings a resumed run may change."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from trmsolve.config import ModelConfig
from trmsolve.kinds import KINDS, PuzzleKind, get_kind


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in the run directory so `--resume` needs nothing else."""

    task: str
    data: str  # training CSV (sudoku, maze) or builder output directory (arc)
    out: str  # run directory: checkpoint.pt, log.jsonl, export/
    eval_data: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 64
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 0.1
    total_steps: int = 100_000  # sets the cosine schedule; stop earlier with max_minutes
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.95)
    puzzle_emb_lr: float | None = None  # None: the task's published rate (`PuzzleKind.puzzle_emb_lr`)
    puzzle_emb_weight_decay: float = 0.1
    ema_rate: float = 0.999
    loss: str = "stablemax"  # or "softmax"
    question_weight: float = 1.0  # loss weight of the cells the input leaves open (1 = published)
    answer_weight: float = 1.0  # loss weight of the cells whose answer differs from the input (1 = published)
    # ACT steps before this one run without a token loss and without halting (1 = every step, as published): on a
    # long maze the early steps cannot know the path, and a loss there teaches the rule to hedge.
    supervise_from: int = 1
    augment: bool = True
    dtype: str = "auto"  # of the matmuls: auto, float32, bfloat16 (autocast)
    init: str | None = None  # start from this model's weights (a bundled name or directory), fresh optimiser
    # With `init`: model fields that replace the initial model's. Only those no weight depends on.
    init_overrides: dict[str, int | bool] = field(default_factory=dict)
    seed: int = 0
    max_minutes: float | None = None
    checkpoint_minutes: float = 5.0
    eval_minutes: float = 15.0
    eval_size: int = 1000
    threads: int | None = None
    # torch.compile the network (inductor, a C++ compiler): a 21x21 maze step 1.47x faster in bfloat16 and 1.15x
    # in float32 (benchmarks/bench_train_step.py), after up to a few minutes of compiling. A session setting.
    compile: bool = False

    def __post_init__(self) -> None:
        if self.puzzle_emb_lr is None:  # an unknown task fails where its data is read (`load_data`)
            kind = get_kind(self.task) if self.task in KINDS else PuzzleKind
            self.puzzle_emb_lr = kind.puzzle_emb_lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "bf16" in data:  # runs written before `dtype`
            data["dtype"] = "bfloat16" if data.pop("bf16") else "float32"
        data["model"] = ModelConfig.from_dict(data["model"])
        data["betas"] = tuple(data["betas"])
        return cls(**data)


def lr_scale(step: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay to lr_min_ratio at total_steps."""
    if step < config.lr_warmup_steps:
        return (step + 1) / config.lr_warmup_steps
    progress = min(1.0, (step - config.lr_warmup_steps) / max(1, config.total_steps - config.lr_warmup_steps))
    return config.lr_min_ratio + (1 - config.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


# The CPU-sized TRM `trmsolve train` starts from, before its kind's own defaults (`PuzzleKind.model_defaults`): the
# published 512-wide models are much slower to train on a CPU.
CPU_MODEL: dict[str, Any] = {
    "arch": "trm",
    "hidden_size": 256,
    "num_heads": 4,
    "pos_encodings": "rope",
    "H_cycles": 3,
    "L_cycles": 4,
    "L_layers": 2,
    "halt_max_steps": 16,
    "puzzle_emb_ndim": 0,
    "canvas_crop": 0,
    "neighbour_attention": False,
    "position_free_prefix": False,
}


def default_model_config(task: str, **overrides: Any) -> ModelConfig:
    """The model `trmsolve train TASK` trains: `CPU_MODEL`, the kind's defaults, then `overrides`."""
    kind = get_kind(task)
    return ModelConfig(seq_len=kind.seq_len, vocab_size=kind.vocab_size, **{**CPU_MODEL, **kind.model_defaults,
                                                                             **overrides})  # fmt: skip


def run_default(name: str) -> Any:
    """The default of a `TrainConfig` field (what the command line shows and uses when an option is not given)."""
    return next(f.default for f in dataclasses.fields(TrainConfig) if f.name == name)


# Model fields a run may change from its initial model's: no weight's shape or meaning depends on them.
WEIGHT_FREE_FIELDS = ("H_cycles", "L_cycles", "halt_max_steps", "canvas_crop", "position_free_prefix")

# On resume, where the data lives and how long and on how many threads to go this session always come from
# the caller (the data is regenerated by seed on a new machine); these run settings only when it changes them.
SESSION_FIELDS = ("data", "eval_data", "out", "max_minutes", "threads", "compile")
ADJUSTABLE_FIELDS = ("total_steps", "dtype", "eval_size", "eval_minutes", "checkpoint_minutes")

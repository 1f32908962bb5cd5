"""Model configuration as a plain dataclass (importing it never imports torch).

Field names follow the published `arch` section of `all_config.yaml`, so a published config maps onto
this one key for key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

ARCH_NAMES = {
    "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1": "trm",
    "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1": "hrm",
}

# What a config may ask for: far above every published model (seq_len 916, hidden 512, 876,406 identifiers),
# far below sizes that would exhaust memory before the weights are even compared.
SANE_BOUNDS: dict[str, tuple[float, float]] = {
    "seq_len": (1, 65_536),
    "vocab_size": (2, 65_536),
    "num_puzzle_identifiers": (1, 10_000_000),
    "puzzle_emb_ndim": (0, 65_536),
    "puzzle_emb_len": (0, 4_096),
    "hidden_size": (1, 16_384),
    "num_heads": (1, 1_024),
    "expansion": (0.1, 64),
    "H_cycles": (1, 1_000),
    "L_cycles": (1, 1_000),
    "H_layers": (0, 1_000),
    "L_layers": (1, 1_000),
    "halt_max_steps": (1, 100_000),
    "canvas_crop": (0, 1_024),
}


@dataclass
class ModelConfig:
    """Architecture of a TRM or HRM network plus the data shape it was trained on."""

    arch: Literal["trm", "hrm"] = "trm"
    seq_len: int = 81
    vocab_size: int = 11
    num_puzzle_identifiers: int = 1
    puzzle_emb_ndim: int = 0
    puzzle_emb_len: int = 0  # 0 = ceil(puzzle_emb_ndim / hidden_size); HRM always uses that
    hidden_size: int = 512
    num_heads: int = 8
    expansion: float = 4.0
    H_cycles: int = 3
    L_cycles: int = 6
    H_layers: int = 0  # HRM only
    L_layers: int = 2
    pos_encodings: Literal["rope", "learned", "none"] = "rope"
    mlp_t: bool = False  # TRM only: token-mixing SwiGLU instead of attention
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    halt_max_steps: int = 16
    halt_exploration_prob: float = 0.1
    no_ACT_continue: bool = True
    # Square-canvas tasks (maze): > 0 runs the network on only the top-left S x S of the canvas, S the larger of
    # this and the smallest square holding every non-`canvas_pad` input cell of the batch. Tokens keep their
    # canvas positions (rotary), so a vertical neighbour is always one canvas row away; cells outside the
    # square are padding and are answered as given. 0: the whole sequence (the published models). Training runs
    # on this square; a position-free model (below) may solve on a smaller one than it trained on.
    canvas_crop: int = 0
    canvas_pad: int = 1
    # Square-canvas tasks: each cell attends only to itself and its four neighbours (the puzzle-embedding
    # prefix tokens and the cells still see each other), so one block moves information one cell, the same
    # rule on any size of maze. False: every token attends to every token (the published models).
    neighbour_attention: bool = False
    # Neighbour attention only: the prefix tokens and the cells score each other without rotary positions, so
    # the network computes the same at every place on the canvas (with positions, a cell's view of the prefix
    # depends on how far it is from the canvas's top-left corner, and a rule trained on the top-left 21x21
    # does not hold beyond it). Cells still score their neighbours with rotary positions (fixed offsets).
    position_free_prefix: bool = False

    @property
    def num_prefix_tokens(self) -> int:
        """Puzzle-embedding positions placed before the sequence."""
        if self.puzzle_emb_ndim <= 0:
            return 0
        if self.arch == "trm" and self.puzzle_emb_len:
            return self.puzzle_emb_len
        return -(self.puzzle_emb_ndim // -self.hidden_size)

    @property
    def canvas_side(self) -> int:
        """Side of the square canvas the sequence lays out (30 for maze and ARC), or 0 when seq_len is no square."""
        side = math.isqrt(self.seq_len)
        return side if side * side == self.seq_len else 0

    @property
    def total_len(self) -> int:
        return self.seq_len + self.num_prefix_tokens

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> None:
        """Refuse sizes no model has before anything is allocated (a config.json is untrusted input): a
        ValueError naming the first field out of bounds."""
        for name, (low, high) in SANE_BOUNDS.items():
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} is {value!r}, outside {low}..{high}")
        if self.neighbour_attention and (self.mlp_t or not self.canvas_side):
            raise ValueError("neighbour_attention needs attention over a square canvas (seq_len a square)")
        if self.position_free_prefix and not self.neighbour_attention:
            raise ValueError("position_free_prefix needs neighbour_attention")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Build from our config.json `model` section; unknown keys are an error, not silently dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_published(
        cls, arch: dict[str, Any], *, seq_len: int, vocab_size: int, num_puzzle_identifiers: int
    ) -> ModelConfig:
        """Map the `arch` section of a published `all_config.yaml` (data-set sizes come separately)."""
        name = arch.get("name", "")
        if name not in ARCH_NAMES:
            raise ValueError(f"unknown architecture {name!r} (expected one of: {', '.join(ARCH_NAMES)})")
        kind = ARCH_NAMES[name]
        names = {f.name for f in dataclasses.fields(cls)} - {"arch", "seq_len", "vocab_size"}
        values = {k: v for k, v in arch.items() if k in names}
        if kind == "hrm":
            values["puzzle_emb_len"] = 0
            values["mlp_t"] = False
            values["no_ACT_continue"] = False  # HRM halts on q_halt > q_continue
        else:
            values.setdefault("puzzle_emb_len", 16)  # published TRM default
        return cls(
            arch=kind,
            seq_len=seq_len,
            vocab_size=vocab_size,
            num_puzzle_identifiers=num_puzzle_identifiers,
            **values,
        )


@dataclass
class CheckpointInfo:
    """Everything in our `config.json` besides the architecture: what the model is for and where it came from."""

    task: str | None = None
    default_steps: int = 16
    encoding: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    advice: str | None = None  # what the model is not yet for, and what to use there (`trmsolve models`)
    view_steps: int | None = None  # most steps a view runs in verified solving, where the card measured a budget
    # that pays better than the default rule (SolveOptions.steps_for)
    views: int | None = None  # views a puzzle may take in verified solving, where the card measured that more pay
    restart_noise: float | None = None  # views past the kind's transforms run the same transforms again from the
    # initial state plus Gaussian noise of this standard deviation (search.py); None: no such views

"""The public TRM/HRM checkpoints `trmsolve models` lists and `trmsolve fetch` knows how to read: a table, so that
listing them never imports huggingface_hub."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class KnownCheckpoint:
    """A public TRM/HRM checkpoint on the Hub. `reported` quotes the figure its owner (or the paper, for its own run
    of that setup) reports: nothing was measured here. `publisher` is "official" (the paper's authors) or
    "unverified" (a third-party run we have not checked). `layout` is what the repo holds, as its file list shows."""

    repo_id: str
    task: str
    arch: str
    publisher: Literal["official", "unverified"]
    reported: str
    layout: str


RUN = "step_N + all_config.yaml + the run's code"
HRM_RUN = "checkpoint + all_config.yaml"

# The HRM authors published their checkpoints; as far as we know the TRM authors published code only, so the TRM
# entries are third-party runs. Every layout here is rebuilt file for file in tests/test_hub_layouts.py.
KNOWN_CHECKPOINTS = (
    KnownCheckpoint("sapientinc/HRM-checkpoint-sudoku-extreme", "sudoku", "hrm", "official", "paper: 55.0%", HRM_RUN),
    KnownCheckpoint(
        "sapientinc/HRM-checkpoint-maze-30x30-hard", "maze", "hrm", "official", "paper: 74.5% (hard 30x30)", HRM_RUN
    ),
    KnownCheckpoint(
        "sapientinc/HRM-checkpoint-ARC-2", "arc", "hrm", "official", "paper: 5.0% ARC-AGI-2",
        f"{HRM_RUN}; 1,045,829 identifiers: needs --identifiers",
    ),
    KnownCheckpoint(
        "arcprize/trm_arc_prize_verification/arc_v1_public", "arc", "trm", "unverified",
        "owner: 40% ARC-AGI-1 (1.8 GB)", f"a folder per task: {RUN}",
    ),
    KnownCheckpoint(
        "arcprize/trm_arc_prize_verification/arc_v2_public", "arc", "trm", "unverified",
        "owner: 6.2% ARC-AGI-2 (2.5 GB)", f"a folder per task: {RUN}",
    ),
    KnownCheckpoint(
        "Sanjin2024/TinyRecursiveModels-Sudoku-Extreme-att", "sudoku", "trm", "unverified", "owner: 77.7%", RUN
    ),
    KnownCheckpoint(
        "gaoxin492/TinyRecursiveModels-Sudoku-Extreme-mlp", "sudoku", "trm", "unverified", "owner: 84.8%", RUN
    ),
    KnownCheckpoint(
        "Sanjin2024/TinyRecursiveModel-Maze-Hard", "maze", "trm", "unverified", "owner: 78.7% (hard 30x30)", RUN
    ),
    KnownCheckpoint(
        "alphaXiv/trm-model-sudoku", "sudoku", "trm", "unverified", "paper: 87.4% mlp_t, 74.7% att", RUN
    ),
    KnownCheckpoint(
        "alphaXiv/trm-model-maze", "maze", "trm", "unverified", "paper: 85.3% (hard 30x30)",
        "maze_hard_step_N + all_config.yaml",
    ),
    KnownCheckpoint("alphaXiv/trm-model-arc-agi-1", "arc", "trm", "unverified", "paper: 44.6% ARC-AGI-1", RUN),
    KnownCheckpoint(
        "ThomasHeim/HRM-Reproduction-Checkpoints", "sudoku", "hrm", "unverified",
        "owner: 53% (original run)", "a folder per run, many step_N: name one",
    ),
    KnownCheckpoint(
        "MaximeILL/GAR_ckpts", "sudoku", "trm", "unverified", "owner: 85.9%",
        "*.pt EMA weights + a YAML named after the run",
    ),
)  # fmt: skip

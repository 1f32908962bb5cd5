"""The public TRM/HRM checkpoints, laid out file for file as their Hub repos hold them (folder per task, `step_N`,
`checkpoint`, `*.pt` EMA exports with their own YAML, the run's code beside the weights), with small random
weights in each, solved end to end through `--model hf:...` against the local stand-in Hub (tests/hub_server.py).

The names and layouts come from the repos' own file lists and cards (issue 13); the weights are random, so the
answers are wrong: what is tested is that each layout is found, converted and run, and that no code is fetched.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from conftest import EXAMPLES_DIR, FIXTURES, reference_config, saved
from hub_server import HubServer
from typer.testing import CliRunner

from trmsolve.cli import app
from trmsolve.config import ModelConfig
from trmsolve.network import build_model

ARC_FIXTURE = FIXTURES / "arc_builder"
ARC_MAP = ARC_FIXTURE / "expected" / "identifiers.json"  # the fixture data set's map: 118 identifiers
ARC_TASKS = ARC_FIXTURE / "input" / "arc-agi_evaluation_challenges.json"
CODE = b"raise SystemExit('repository code must never run')\n"
PREFIX = "_orig_mod.model.inner."  # torch.compile's wrapper around the ACT loss head around the model
SHAPES = {"sudoku": (81, 11), "maze": (900, 6), "arc": (900, 12)}  # seq_len, vocab_size
runner = CliRunner()


def random_run(reference: str, task: str, *, identifiers: int = 1, seed: int = 0, **arch: object) -> dict[str, bytes]:
    """A published run of the reference fixture's architecture, sized for `task`, with random weights: the state
    dict as the training code saves it (step_N / checkpoint) and its all_config.yaml."""
    arch = {**reference_config(reference)["arch"], **arch}
    seq_len, vocab = SHAPES[task]
    config = ModelConfig.from_published(arch, seq_len=seq_len, vocab_size=vocab, num_puzzle_identifiers=identifiers)
    torch.manual_seed(seed)
    model = build_model(config)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            tensor.normal_(0.0, 0.05)
    state = {PREFIX + name: tensor for name, tensor in model.state_dict().items()}
    return {"weights": saved(state), "config": yaml.safe_dump({"arch": arch, "epochs": 1000}).encode()}


def run_folder(folder: str, run: dict[str, bytes], weights: str, config: str = "all_config.yaml") -> dict[str, bytes]:
    """The files the published training code leaves in a checkpoint folder: weights, config, copies of its code."""
    prefix = f"{folder}/" if folder else ""
    return {
        prefix + weights: run["weights"],
        prefix + config: run["config"],
        f"{prefix}trm.py": CODE,
        f"{prefix}losses.py": CODE,
    }


@dataclass(frozen=True)
class Layout:
    repo: str
    files: dict[str, bytes]
    model: str  # what a user passes to --model
    task: str


def layouts() -> list[Layout]:
    card = {"README.md": b"# a model card\n", ".gitattributes": b"*.pt filter=lfs\n"}
    arc_v1 = random_run("trm_att_learned_arc", "arc", identifiers=118, puzzle_emb_len=16)
    arc_v2 = random_run("trm_att_learned_arc", "arc", identifiers=118, seed=1)
    return [
        Layout(
            "arcprize/trm_arc_prize_verification",
            card
            | run_folder("arc_v1_public", arc_v1, "step_518071")
            | run_folder("arc_v2_public", arc_v2, "step_723914"),
            "hf:arcprize/trm_arc_prize_verification/arc_v1_public",
            "arc",
        ),
        Layout(
            "Sanjin2024/TinyRecursiveModels-Sudoku-Extreme-att",
            card | run_folder("", random_run("trm_att_rope", "sudoku"), "step_21700"),
            "hf:Sanjin2024/TinyRecursiveModels-Sudoku-Extreme-att",
            "sudoku",
        ),
        Layout(
            "gaoxin492/TinyRecursiveModels-Sudoku-Extreme-mlp",
            card | run_folder("", random_run("trm_mlp_t", "sudoku"), "step_48000"),
            "hf:gaoxin492/TinyRecursiveModels-Sudoku-Extreme-mlp",
            "sudoku",
        ),
        Layout(
            "Sanjin2024/TinyRecursiveModel-Maze-Hard",
            card | run_folder("", random_run("trm_att_rope", "maze", L_cycles=2), "step_9765"),
            "hf:Sanjin2024/TinyRecursiveModel-Maze-Hard",
            "maze",
        ),
        Layout(
            "alphaXiv/trm-model-maze",
            card | run_folder("", random_run("trm_att_rope", "maze", L_cycles=2, seed=2), "maze_hard_step_32550"),
            "hf:alphaXiv/trm-model-maze",
            "maze",
        ),
        Layout(
            "sapientinc/HRM-checkpoint-sudoku-extreme",
            card | run_folder("", random_run("hrm_rope", "sudoku"), "checkpoint"),
            "hf:sapientinc/HRM-checkpoint-sudoku-extreme",
            "sudoku",
        ),
        Layout(
            "sapientinc/HRM-checkpoint-maze-30x30-hard",
            card | run_folder("", random_run("hrm_rope", "maze"), "checkpoint"),
            "hf:sapientinc/HRM-checkpoint-maze-30x30-hard",
            "maze",
        ),
        Layout(  # many steps of two runs in sub-folders: the user names one file
            "ThomasHeim/HRM-Reproduction-Checkpoints",
            card
            | run_folder("sudoku-extreme/original-hrm", random_run("hrm_rope", "sudoku"), "step_2604")
            | run_folder("sudoku-extreme/original-hrm", random_run("hrm_rope", "sudoku", seed=3), "step_52080")
            | run_folder("sudoku-extreme/augmented-hrm", random_run("hrm_rope", "sudoku", seed=4), "step_52080"),
            "hf:ThomasHeim/HRM-Reproduction-Checkpoints/sudoku-extreme/original-hrm/step_52080",
            "sudoku",
        ),
        Layout(  # EMA weights nested under a key, the run's YAML named after the run
            "MaximeILL/GAR_ckpts",
            card | ema_export("sudoku", random_run("trm_mlp_t", "sudoku", seed=5), "gar_sudoku.yaml"),
            "hf:MaximeILL/GAR_ckpts/sudoku",
            "sudoku",
        ),
    ]


def ema_export(folder: str, run: dict[str, bytes], config: str) -> dict[str, bytes]:
    """An EMA export: the state dict nested under `ema` next to other entries, a YAML named after the run."""
    state = torch.load(io.BytesIO(run["weights"]), weights_only=True)
    exported = saved({"ema": state, "step": torch.tensor(90000)})
    return {f"{folder}/ema_model.pt": exported, f"{folder}/{config}": run["config"]}


def solve_args(layout: Layout) -> list[str]:
    common = ["--model", layout.model, "--max-steps", "1", "--json"]
    if layout.task == "sudoku":
        return ["sudoku", str(EXAMPLES_DIR / "sudoku" / "easy.txt"), *common, "--views", "2"]
    if layout.task == "maze":
        return ["maze", str(EXAMPLES_DIR / "maze" / "small.txt"), *common, "--views", "2"]
    return ["arc", str(ARC_TASKS), *common, "--views", "2", "--identifiers", str(ARC_MAP)]


@pytest.mark.parametrize("layout", layouts(), ids=lambda layout: layout.repo)
def test_each_public_layout_solves_end_to_end(hub_server: HubServer, layout: Layout) -> None:
    hub_server.add(layout.repo, layout.files)
    result = runner.invoke(app, solve_args(layout))
    assert result.exit_code == 1, result.output  # random weights: wrong answers, said so
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows and all(row["model"] == layout.model for row in rows)
    assert "error" not in result.stderr and "Traceback" not in result.stderr
    fetched = hub_server.downloads()
    assert not any(path.endswith(".py") for path in fetched), "repository code is never downloaded"
    assert not any(path.endswith("README.md") for path in fetched)


def test_hrm_arc2_identifier_mismatch_says_both_counts_then_takes_a_map(
    hub_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HRM's ARC-2 checkpoint has fewer puzzle embeddings than its README's builder command gives (sapientinc/HRM
    issue 90): say so in one line with both counts, and run with the map the run really used."""
    monkeypatch.setenv("TRMSOLVE_CACHE", str(tmp_path / "cache"))
    run = random_run("hrm_rope", "arc", identifiers=118)
    hub_server.add("sapientinc/HRM-checkpoint-ARC-2", run_folder("", run, "checkpoint"))
    args = ["arc", str(ARC_TASKS), "--model", "hf:sapientinc/HRM-checkpoint-ARC-2", "--max-steps", "1", "--json"]
    mismatch = runner.invoke(app, [*args, "--arc-data", str(ARC_FIXTURE / "input")])
    assert mismatch.exit_code == 2, mismatch.output
    message = mismatch.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert message.startswith("error: the model's puzzle embedding has 118 identifiers; no published identifier map")
    assert "ARC-AGI-1: " in message and "augmentations a task instead of 1000" in message
    assert message.endswith("--identifiers FILE")
    wrong = tmp_path / "short.json"
    wrong.write_text(json.dumps(json.loads(ARC_MAP.read_text())[:50]))
    short = runner.invoke(app, [*args, "--identifiers", str(wrong)])
    assert short.exit_code == 2 and short.stderr.strip() == (
        f"error: {wrong}: 50 identifiers, the model's puzzle embedding has 118"
    )
    solved = runner.invoke(app, [*args, "--identifiers", str(ARC_MAP), "--views", "2"])
    assert solved.exit_code == 1, solved.output  # random weights: wrong, but every task known and voted
    rows = [json.loads(line) for line in solved.stdout.splitlines()]
    assert rows and all(row["known"] and row["runs"] == 2 for row in rows)
    assert f"identifier map from {ARC_MAP} (118 identifiers)" in solved.stderr

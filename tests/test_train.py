"""Training: the published loss, slot refilling, exact resume, and data parallel ranks staying in sync."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FIXTURES, TRMSOLVE

from trmsolve.errors import TrmsolveError
from trmsolve.hardware import Compiled
from trmsolve.loss import IGNORE_LABEL, log_stablemax, token_losses
from trmsolve.models import load_model
from trmsolve.train import TrainConfig, Trainer, default_model_config, train

DATA = FIXTURES / "data"


def tiny_config(out: Path, steps: int) -> TrainConfig:
    model = default_model_config(
        "maze", hidden_size=32, num_heads=2, H_cycles=1, L_cycles=1, L_layers=1, halt_max_steps=3
    )
    return TrainConfig(
        task="maze",
        data=str(DATA / "maze_64.csv"),
        eval_data=str(DATA / "maze_16.csv"),
        out=str(out),
        model=model,
        batch_size=8,
        lr_warmup_steps=2,
        total_steps=steps,
        eval_size=8,
        checkpoint_minutes=1e9,
        eval_minutes=1e9,
    )


def weights_checksum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum() for p in model.parameters()))


def test_stablemax_is_the_published_function() -> None:
    logits = torch.tensor([[[-1.0, 0.0, 2.0]]])
    s = torch.tensor([1 / 2, 1.0, 3.0])  # 1/(1-x) below zero, x+1 above
    torch.testing.assert_close(log_stablemax(logits.double())[0, 0], torch.log(s / s.sum()).double())
    losses = token_losses(logits, torch.tensor([[2]]), "stablemax")
    torch.testing.assert_close(losses, -torch.log(s[2:] / s.sum()).view(1, 1))
    assert token_losses(logits, torch.tensor([[IGNORE_LABEL]]), "stablemax").item() == 0.0


def test_halted_slots_are_refilled_with_fresh_puzzles_and_carry(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(tmp_path, 2), log=lambda _: None)
    trainer.train_step()
    slots = trainer.slots
    slots.halted[:] = False
    slots.halted[:3] = True
    before = {k: v.clone() for k, v in slots.batch.items()}
    refilled = trainer._refill(trainer.sampler.next())
    assert torch.equal(refilled.batch["inputs"][3:], before["inputs"][3:])
    assert not torch.equal(refilled.batch["inputs"][:3], before["inputs"][:3])
    assert torch.equal(refilled.carry.z_H[:3], trainer.model.initial_carry(3).z_H)
    assert torch.equal(refilled.carry.z_H[3:], slots.carry.z_H[3:])
    assert refilled.steps[:3].eq(0).all()


def test_resume_continues_exactly(tmp_path: Path) -> None:
    straight = train(tiny_config(tmp_path / "a", 6), log=lambda _: None)
    train(tiny_config(tmp_path / "b", 3), log=lambda _: None)
    resumed = train(tiny_config(tmp_path / "b", 6), log=lambda _: None)
    assert resumed.step == straight.step == 6
    assert weights_checksum(resumed.model) == weights_checksum(straight.model)
    assert weights_checksum(resumed.ema) == weights_checksum(straight.ema)


def test_resume_on_new_data_starts_an_epoch_over_it(tmp_path: Path) -> None:
    """A curriculum's next stage resumes the run on another file; every puzzle of the new file is drawn."""
    train(tiny_config(tmp_path, 2), log=lambda _: None)
    stage = dataclasses.replace(tiny_config(tmp_path, 3), data=str(DATA / "maze_16.csv"))
    resumed = train(stage, log=lambda _: None)
    assert resumed.step == 3
    assert sorted(resumed.sampler.order) == list(range(16)) and resumed.sampler.epoch == 1


DDP_SCRIPT = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_train import tiny_config
from trmsolve.train import Trainer
trainer = Trainer(tiny_config({out!r}, 4), log=lambda _: None)
trainer.run()
"""


def test_two_cpu_processes_stay_in_sync(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path / "run")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script)]
    subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
    rank0 = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "run" / "checkpoint.rank1.pt", weights_only=True)
    assert rank0["step"] == rank1["step"] == 4
    # Puzzles started over both ranks: 8 slots each at step 1, refilled at step 4 after halting at the max 3.
    assert rank0["samples"] == 2 * 8 * 2
    for name, tensor in rank0["model"].items():
        assert torch.equal(tensor, rank1["model"][name]), f"{name} differs between ranks"
    # The ranks trained on different shards, so their batches differ while their weights agree.
    assert not torch.equal(rank0["slots"]["batch"]["inputs"], rank1["slots"]["batch"]["inputs"])
    fresh = Trainer(tiny_config(tmp_path / "fresh", 4), log=lambda _: None)
    assert any(not torch.equal(t, fresh.model.state_dict()[n]) for n, t in rank0["model"].items())


def test_export_writes_a_loadable_model_with_its_provenance(tmp_path: Path) -> None:
    lines: list[str] = []
    trainer = train(tiny_config(tmp_path / "run", 3), log=lines.append)
    out = trainer.export(tmp_path / "model")
    # The evaluations that choose the weights take minutes on a real split: the log says what is running.
    assert lines[-1].startswith("choosing the weights to export: evaluating the EMA and the raw weights on ")
    model = load_model(out, dtype="float32")  # as trained: `auto` would load bfloat16 where it is native
    provenance = model.info.provenance
    assert provenance["trained_with"] == "trmsolve train" and provenance["steps"] == 3
    assert provenance["weights"] in ("ema", "raw")
    assert set(provenance["selection_scores"]) == {"ema", "raw"}
    chosen = trainer.ema if provenance["weights"] == "ema" else trainer.model
    for name, tensor in chosen.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


def test_init_starts_from_the_given_weights_with_a_fresh_optimiser(tmp_path: Path) -> None:
    """`train --init DIR`: the first step's loss is that model's loss on the batch, not a new model's."""
    first = Trainer(tiny_config(tmp_path / "a", 3), log=lambda line: None)
    for _ in range(3):
        first.train_step()
    first.export(tmp_path / "exported")
    exported = load_model(tmp_path / "exported", dtype="float32")

    config = dataclasses.replace(tiny_config(tmp_path / "b", 3), init=str(tmp_path / "exported"), dtype="float32")
    continued = Trainer(config, log=lambda line: None)
    assert continued.step == 0 and not continued.optimizer.state  # a fresh optimiser and schedule
    for name, tensor in exported.state_dict().items():
        assert torch.equal(continued.model.state_dict()[name], tensor), name
    batch = {k: v.clone() for k, v in continued.sampler.next().items()}
    continued.sampler = type(continued.sampler)(continued.data, config.batch_size, config.seed, config.augment)
    reference = Trainer(dataclasses.replace(config, init=None), log=lambda line: None)
    reference.model.load_state_dict(exported.state_dict())
    expected = reference.train_step()["lm_loss"]
    assert continued.train_step()["lm_loss"] == expected
    fresh = Trainer(dataclasses.replace(config, init=None), log=lambda line: None)
    assert fresh.train_step()["lm_loss"] != expected
    assert batch["inputs"].shape[0] == config.batch_size


def test_init_may_change_the_recursion_but_no_weight(tmp_path: Path) -> None:
    """`train --init DIR --h-cycles 2`: the same weights, run with the cycle counts typed; the width may not change."""
    config = tiny_config(tmp_path / "a", 2)
    config.model = dataclasses.replace(config.model, canvas_crop=9, neighbour_attention=True)
    Trainer(config, log=lambda _: None).export(tmp_path / "exported")
    command = [TRMSOLVE, "train", "maze", "--init", str(tmp_path / "exported"), "--data", str(DATA / "maze_64.csv")]
    run = tmp_path / "b"
    typed = ("--h-cycles", "2", "--max-steps", "5", "--hidden-size", "64", "--batch-size", "4")
    subprocess.run([*command, "-o", str(run), "--minutes", "0.01", "--threads", "1", *typed], check=True)
    recorded = TrainConfig.from_dict(json.loads((run / "train_config.json").read_text()))
    assert recorded.init_overrides == {"H_cycles": 2, "halt_max_steps": 5}  # not --l-cycles: it was not typed
    assert (recorded.model.H_cycles, recorded.model.halt_max_steps) == (2, 5)
    assert recorded.model.L_cycles == 1 and recorded.model.hidden_size == 32  # the initial model's
    assert recorded.model.canvas_crop == 9  # the initial model's too: --canvas-crop was not typed
    assert recorded.puzzle_emb_lr == 1e-4  # the published maze rate (ARC's is 1e-2)
    assert not recorded.model.position_free_prefix
    whole = tmp_path / "whole"  # typed, even 0 (the whole canvas) replaces it; --act-steps is --max-steps' new name
    typed = ("--minutes", "0.01", "--threads", "1", "--canvas-crop", "0", "--position-free-prefix", "--act-steps", "7")
    subprocess.run([*command, "-o", str(whole), *typed], check=True)
    model = TrainConfig.from_dict(json.loads((whole / "train_config.json").read_text())).model
    assert (model.canvas_crop, model.position_free_prefix, model.halt_max_steps) == (0, True, 7)

    config = dataclasses.replace(tiny_config(tmp_path / "c", 2), init=str(tmp_path / "exported"))
    with pytest.raises(TrmsolveError, match="hidden_size cannot change"):
        Trainer(dataclasses.replace(config, init_overrides={"hidden_size": 64}), log=lambda _: None)
    plain = tiny_config(tmp_path / "d", 2)  # all-to-all attention: no prefix score to free of positions
    plain.model = dataclasses.replace(plain.model, position_free_prefix=True)
    with pytest.raises(TrmsolveError, match="position_free_prefix needs neighbour_attention"):
        Trainer(plain, log=lambda _: None)


def test_a_canvas_crop_trains_on_the_square_the_mazes_occupy(tmp_path: Path) -> None:
    from trmsolve.data import maze
    from trmsolve.data.csvfile import write_csv

    small = tmp_path / "small.csv"
    write_csv(small, maze.generate(32, 5, small_share=1.0, small_sides=(5, 9)))
    config = dataclasses.replace(tiny_config(tmp_path / "crop", 2), data=str(small), eval_data=str(small))
    config.model = dataclasses.replace(config.model, canvas_crop=8)
    trainer = Trainer(config, log=lambda line: None)
    side = int(trainer.positions.numel() ** 0.5)
    assert 8 <= side < 30 and trainer.data.inputs.shape[1] == side * side  # only the square the mazes need
    assert trainer.positions[side].item() == 30  # one canvas row down: rotary positions keep the 30-wide rows
    metrics = trainer.train_step()
    assert metrics["loss"] > 0 and trainer.slots.carry.z_H.shape[1] == side * side + trainer.model.num_prefix_tokens


def test_question_weight_weights_the_open_cells_and_is_published_at_one(tmp_path: Path) -> None:
    """--question-weight W: each maze's loss is a mean with open cells counted W times; W = 1 is the plain mean."""
    from trmsolve.data import maze

    trainer = Trainer(dataclasses.replace(tiny_config(tmp_path / "w", 2), question_weight=3.0), log=lambda _: None)
    inputs, labels = (torch.from_numpy(a[:4]) for a in (trainer.data.inputs, trainer.data.labels))
    valid = labels != IGNORE_LABEL
    weights = trainer.loss_weights(inputs, labels, valid)
    open_cells = (inputs == maze.QUESTION_TOKEN) & valid
    assert open_cells.any() and (~open_cells & valid).any()
    assert torch.all(weights[open_cells] == 3.0) and torch.all(weights[~open_cells & valid] == 1.0)
    assert torch.all(weights[~valid] == 0.0)
    published = Trainer(tiny_config(tmp_path / "p", 2), log=lambda _: None)
    assert torch.equal(published.loss_weights(inputs, labels, valid), valid.float())

    seeded = [
        Trainer(dataclasses.replace(tiny_config(tmp_path / n, 2), question_weight=w), log=lambda _: None)
        for n, w in (("one", 1.0), ("three", 3.0))
    ]
    losses = [t.train_step()["lm_loss"] for t in seeded]  # same batch and weights, different weighting
    assert losses[0] != losses[1]


def test_answer_weight_weights_the_path_and_multiplies_the_question_weight(tmp_path: Path) -> None:
    """--answer-weight A: the cells the answer changes (a maze's path) count A times, on top of --question-weight."""
    from trmsolve.data import maze

    config = dataclasses.replace(tiny_config(tmp_path, 2), question_weight=2.0, answer_weight=5.0)
    trainer = Trainer(config, log=lambda _: None)
    inputs, labels = (torch.from_numpy(a[:4]) for a in (trainer.data.inputs, trainer.data.labels))
    valid = labels != IGNORE_LABEL
    weights = trainer.loss_weights(inputs, labels, valid)
    path = (labels != inputs) & valid
    other_open = (inputs == maze.QUESTION_TOKEN) & ~path & valid
    assert path.any() and other_open.any()
    assert torch.all(weights[path] == 10.0) and torch.all(weights[other_open] == 2.0)
    assert torch.all(weights[valid & ~path & ~other_open] == 1.0) and torch.all(weights[~valid] == 0.0)


def test_supervise_from_runs_the_early_steps_without_a_token_loss_or_halting(tmp_path: Path) -> None:
    """--supervise-from 3 with 3 ACT steps: the batch's first two steps have no token loss and no maze halts; the
    third is supervised and ends every maze; the next batch starts over. 1 (published): a loss from the first."""
    trainer = Trainer(dataclasses.replace(tiny_config(tmp_path / "late", 8), supervise_from=3), log=lambda _: None)
    logs = [trainer.train_step() for _ in range(4)]
    assert [log["lm_loss"] == 0.0 for log in logs] == [True, True, False, True]
    assert math.isnan(logs[0]["halted_steps"]) and math.isnan(logs[1]["halted_steps"])
    assert logs[2]["halted_steps"] == 3.0
    published = Trainer(tiny_config(tmp_path / "every", 8), log=lambda _: None)
    assert published.train_step()["lm_loss"] > 0.0
    with pytest.raises(TrmsolveError, match="past the last of 3 ACT steps"):
        Trainer(dataclasses.replace(tiny_config(tmp_path / "never", 8), supervise_from=4), log=lambda _: None)


def test_question_weight_is_refused_for_arc(tmp_path: Path) -> None:
    arc = str(FIXTURES / "arc_builder" / "expected" / "train")  # the published builder's output: no question token
    config = dataclasses.replace(tiny_config(tmp_path, 2), task="arc", data=arc, eval_data=None, question_weight=2.0)
    with pytest.raises(TrmsolveError, match="question-weight"):
        Trainer(config, log=lambda _: None)


def test_resuming_from_the_command_line_keeps_the_runs_schedule_unless_told(tmp_path: Path) -> None:
    """`trmsolve train ... -o RUN` without --total-steps must not put the option's default (100,000) in place of
    the run's own schedule (it once did, silently raising a resumed stage's learning rate)."""
    run = tmp_path / "run"
    first = tiny_config(run, 2)
    train(first, log=lambda _: None)
    command = [TRMSOLVE, "train", "maze", "--data", first.data, "-o", str(run), "--threads", "1"]

    def resume(*options: str) -> TrainConfig:
        """The settings the resumed run goes on with, as it records them (its schedule is already done)."""
        subprocess.run([*command, "--minutes", "0.01", *options], check=True, capture_output=True)
        return TrainConfig.from_dict(json.loads((run / "train_config.json").read_text()))

    kept = resume()
    assert kept.total_steps == 2 and kept.model.hidden_size == 32 and kept.lr_warmup_steps == 2
    assert resume("--total-steps", "5").total_steps == 5


def test_exporting_a_run_records_the_runs_settings_not_the_export_calls(tmp_path: Path) -> None:
    """`train --minutes 0 --export` only loads the run: its record and the export's provenance keep the settings
    the weights were trained with (an export once recorded its own --eval-data and --threads instead)."""
    run, export = tmp_path / "run", tmp_path / "export"
    first = tiny_config(run, 2)
    train(first, log=lambda _: None)
    recorded = (run / "train_config.json").read_text()
    options = ("--minutes", "0", "--threads", "2", "--eval-data", first.data, "--export", str(export))
    subprocess.run([TRMSOLVE, "train", "maze", "--data", first.data, "-o", str(run), *options], check=True)
    provenance = json.loads((export / "config.json").read_text())["provenance"]
    assert provenance["train_config"]["eval_data"] == first.eval_data and provenance["train_config"]["threads"] is None
    assert provenance["selected_on"] == first.data  # the export's own choice of weights says what it used
    assert (run / "train_config.json").read_text() == recorded


def test_the_best_evaluation_is_kept_in_best_and_survives_a_resume(tmp_path: Path) -> None:
    """Each held-out evaluation that beats every earlier one writes the EMA to RUN/best; a worse one leaves it."""
    trainer = Trainer(tiny_config(tmp_path / "run", 3), log=lambda _: None)
    best = tmp_path / "run" / "best"

    def result(all_steps: float, halting: float, reached: float = 0.5) -> dict:
        return {"all_steps": {"exact": all_steps, "reached": reached}, "halting": {"exact": halting}}

    def kept() -> tuple[dict, dict[str, torch.Tensor]]:
        model = load_model(best, dtype="float32")
        return model.info.provenance["best_of_evaluations"], model.state_dict()

    trainer._keep_if_best(result(0.25, 0.5))
    first_ema = {n: t.clone() for n, t in trainer.ema.state_dict().items()}
    trainer.train_step()
    trainer._keep_if_best(result(0.5, 0.25))  # the same score: not better
    record, weights = kept()
    assert record["step"] == 0 and record["score"] == [0.5, 0.75]
    assert all(torch.equal(weights[n], t) for n, t in first_ema.items())
    trainer._keep_if_best(result(0.5, 0.5))
    record, weights = kept()
    assert record["step"] == 1 and record["eval"] == result(0.5, 0.5)
    assert all(torch.equal(weights[n], t) for n, t in trainer.ema.state_dict().items())
    trainer.train_step()
    trainer._keep_if_best(result(0.0, 0.0, reached=0.75))  # more answers reached outranks the exact figures
    assert kept()[0]["step"] == 2
    trainer.save()
    resumed = train(dataclasses.replace(tiny_config(tmp_path / "run", 3), max_minutes=0), log=lambda _: None)
    assert resumed.best == trainer.best


def test_evaluation_runs_each_maze_on_the_crop_it_gets_alone(tmp_path: Path) -> None:
    """`evaluate` (train --eval-data, eval --no-verified) groups rows by canvas crop as `solve` does, so a small
    maze's figures do not depend on a 30x30 maze in its batch."""
    from trmsolve.data.csvfile import write_csv
    from trmsolve.data.maze import generate, load_tokens
    from trmsolve.evaluation import evaluate

    path = tmp_path / "mazes.csv"
    write_csv(path, [*generate(4, seed=3, small_share=1, small_sides=(9, 13)), *generate(1, seed=3, small_share=0)])
    inputs, labels, _ = load_tokens(path)
    ids = np.zeros(len(inputs), dtype=np.int64)
    model = load_model("maze", dtype="float32")
    together = evaluate(model, inputs, labels, ids)
    alone = [evaluate(model, inputs[[r]], labels[[r]], ids[:1]) for r in range(len(inputs))]
    assert together["halting"]["reached"] > 0  # the small mazes are solved
    for mode in ("all_steps", "halting"):
        for figure in ("exact", "reached", "mean_steps"):
            total = sum(result[mode][figure] for result in alone)
            assert together[mode][figure] * len(inputs) == pytest.approx(total, abs=0.02), (mode, figure)


def test_one_all_steps_run_scores_the_halting_protocol_as_a_halting_run_does(tmp_path: Path) -> None:
    """`evaluate` reads the halting protocol off its all-steps run (half the cost): per maze, the same answer,
    steps and reached as `refine(halt=True)`, which drops halted puzzles from the batch."""
    from trmsolve.data.csvfile import write_csv
    from trmsolve.data.maze import generate, load_tokens
    from trmsolve.evaluation import score_batch
    from trmsolve.inference import refine

    path = tmp_path / "mazes.csv"
    write_csv(path, generate(16, seed=5, small_share=1, small_sides=(9, 13), algorithms=("obstacles",)))
    inputs, labels, _ = load_tokens(path)
    ids = np.zeros(len(inputs), dtype=np.int64)
    model = load_model("maze", dtype="float32")
    exact, reached, steps = score_batch(model, inputs, labels, ids)["halting"]
    lab = torch.from_numpy(labels)
    hit = torch.zeros(len(inputs), dtype=torch.bool)
    for record in refine(model, inputs, ids, halt=True):
        right = ((record.predictions == lab) | (lab == IGNORE_LABEL)).all(-1)
        hit |= right & record.active
    assert torch.equal(exact, right) and torch.equal(reached, hit) and torch.equal(steps, record.steps)
    assert 0 < int(exact.sum()) < len(inputs) and len(set(steps.tolist())) > 2  # a test that can fail


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="torch.compile needs a C++ compiler")
def test_a_compiled_run_trains_as_the_eager_one(tmp_path: Path) -> None:
    """`train --compile` runs the same network through torch.compile: the same losses to float rounding."""
    eager = Trainer(tiny_config(tmp_path / "eager", 3), log=lambda _: None)
    compiled = Trainer(dataclasses.replace(tiny_config(tmp_path / "compiled", 3), compile=True), log=lambda _: None)
    for _ in range(2):
        a, b = eager.train_step(), compiled.train_step()
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
    assert (
        isinstance(compiled.forward_step, Compiled)
        and compiled.forward_step.ready
        and eager.forward_step is eager.model
    )


def test_compile_without_a_compiler_is_one_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler")}
    data = str(DATA / "maze_64.csv")
    options = ("--hidden-size", "32", "--num-heads", "2", "--layers", "1", "--minutes", "1", "--compile")
    done = subprocess.run(
        [TRMSOLVE, "train", "maze", "--data", data, "-o", str(tmp_path / "run"), *options],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("error: --compile: torch.compile failed") and "Traceback" not in done.stderr

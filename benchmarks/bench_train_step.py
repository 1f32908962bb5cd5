"""A training step eager against `train --compile` (torch.compile of the training network), paired in one process.

Builds the trainer a run would build (its data, crop, model and batch), warms each way up, then times the
same number of optimiser steps each way, eager before and after the compiled steps, and reports seconds a
step, slot-steps a second and the compile time. The two ways train the same network (tests/test_train.py).

    python benchmarks/bench_train_step.py --data data/maze_m4_train.csv --init weights/maze --canvas-crop 21 \
        --dtype bfloat16 --out benchmarks/results/train_step_compile_bf16_2026-11-27.json

Pause other work on the machine first (`kill -STOP`): figures from a busy CPU are not the machine's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from pathlib import Path

import torch
from report import write_report

from trmsolve.hardware import describe
from trmsolve.train import TrainConfig, Trainer, default_model_config


def seconds_a_step(trainer: Trainer, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="maze")
    parser.add_argument("--data", required=True, help="training CSV (its first --rows rows are read)")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--init", default="weights/maze")
    parser.add_argument("--canvas-crop", type=int, default=0)
    parser.add_argument("--dtype", default="auto", choices=("auto", "float32", "bfloat16"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6, help="timed steps each way")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:  # the run's scratch directory and data, gone afterwards
        result = measure(args, Path(tmp))
    print(json.dumps(result, indent=2))
    write_report(result, "train_step", args.out)


def measure(args: argparse.Namespace, work: Path) -> dict:
    """The paired timing, with the first `args.rows` rows of the data in `work`."""
    with open(args.data) as source:
        (work / "data.csv").write_text("".join(islice(source, args.rows + 1)))  # the header and the rows
    config = TrainConfig(
        task=args.task,
        data=str(work / "data.csv"),
        out=str(work / "run"),
        model=default_model_config(args.task, canvas_crop=args.canvas_crop),
        batch_size=args.batch_size,
        dtype=args.dtype,
        init=args.init,
        checkpoint_minutes=1e9,
        eval_minutes=1e9,
    )
    trainer = Trainer(config, log=lambda _: None)
    seconds_a_step(trainer, 3)  # warm-up: slots fill, allocator settles
    eager = seconds_a_step(trainer, args.steps)
    trainer.net = torch.compile(trainer.model)
    start = time.perf_counter()
    seconds_a_step(trainer, 2)
    compile_seconds = time.perf_counter() - start
    compiled = seconds_a_step(trainer, args.steps)
    trainer.net = trainer.model
    eager_after = seconds_a_step(trainer, args.steps)
    eager_best = min(eager, eager_after)
    return {
        "data": args.data,
        "init": args.init,
        "canvas_crop": trainer.model.config.canvas_crop,
        "dtype": str(trainer.autocast_dtype or torch.float32).removeprefix("torch."),
        "batch_size": args.batch_size,
        "threads": args.threads,
        "seconds_a_step": {
            "eager": round(eager, 3),
            "compiled": round(compiled, 3),
            "eager_after": round(eager_after, 3),
        },
        "slot_steps_per_s": {
            "eager": round(args.batch_size / eager_best, 1),
            "compiled": round(args.batch_size / compiled, 1),
        },
        "speed_up": round(eager_best / compiled, 2),
        "compile_and_two_steps_s": round(compile_seconds, 1),
        "machine": describe("cpu"),
    }


if __name__ == "__main__":
    main()

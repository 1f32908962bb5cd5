"""One puzzle at a time, in fresh processes: how its speed varies from process to process, and why.

A single puzzle is one pass through the network, so every operation is split across the threads and the
data each one writes is read by the others in the next. Each run here is a new Python process (as each
`trmsolve sudoku puzzle.txt` is) that measures, in one go: the fp32 matmul peak on all threads, a step of
one puzzle on all threads, and the same on one thread. On the 2-vCPU virtual machines of this project the
all-threads figure was bimodal from process to process while the peak was not (weights/sudoku/README.md).

    python benchmarks/bench_one_puzzle.py --runs 10   # idle CPU; writes benchmarks/results/one_puzzle_DATE.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from bench_speed import flops_per_puzzle_step, matmul_peak, sample_inputs, time_steps
from report import write_report

from trmsolve.hardware import describe
from trmsolve.inference import pass_tokens
from trmsolve.models import load_model


@torch.inference_mode()
def measure(name: str, seconds: float) -> dict[str, Any]:
    """One process's figures: the peak on all threads, one puzzle on all threads, one puzzle on one thread."""
    threads = torch.get_num_threads()
    model = load_model(name, dtype="float32")
    inputs = sample_inputs(model.config, 1)
    positions = model.canvas_positions(inputs)
    flops = flops_per_puzzle_step(model.config, pass_tokens(model, positions))
    peak = matmul_peak(torch.float32, seconds=1.0)
    all_threads = 1 / time_steps(model, 1, inputs, 5, min_seconds=seconds)  # refinement steps a second
    torch.set_num_threads(1)
    one_thread = 1 / time_steps(model, 1, inputs, 5, min_seconds=seconds)
    return {"threads": threads, "peak_gflops": round(peak, 1), "steps_per_s": round(all_threads, 2),
            "one_thread_steps_per_s": round(one_thread, 2), "gflop_per_step": round(flops / 1e9, 3),
            "fraction_of_peak": round(all_threads * flops / 1e9 / peak, 3), "machine": describe("cpu")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sudoku", help="bundled model name or directory")
    parser.add_argument("--runs", type=int, default=10, help="fresh processes")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per figure in each process")
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # one fresh process's figures
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.model, args.seconds)))
        return
    command = [sys.executable, __file__, "--measure", "--model", args.model, "--seconds", str(args.seconds)]
    runs = []
    for i in range(args.runs):
        started = time.strftime("%H:%M:%S")
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        run = json.loads(out.splitlines()[-1])
        runs.append({"started": started, **{k: v for k, v in run.items() if k != "machine"}})
        print(f"run {i + 1:2} {started}: peak {run['peak_gflops']:6.1f} GFLOP/s, one puzzle "
              f"{run['steps_per_s']:5.1f} steps/s ({run['fraction_of_peak']:.0%}), "
              f"one thread {run['one_thread_steps_per_s']:5.1f}", flush=True)  # fmt: skip
    fractions = sorted(r["fraction_of_peak"] for r in runs)
    print(f"fraction of the peak: min {fractions[0]:.0%}, median {statistics.median(fractions):.0%}, "
          f"max {fractions[-1]:.0%}")  # fmt: skip
    write_report({"model": args.model, "machine": run["machine"], "runs": runs}, "one_puzzle", args.out)


if __name__ == "__main__":
    main()

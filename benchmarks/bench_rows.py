"""Puzzles per pass through the network: how many rows of a batch a CPU should run at once.

A CPU runs a batch fastest when one pass's activations stay in its cache; `trmsolve.hardware.rows_per_pass`
picks the rows from the L2 cache size and `CACHE_SHARE`. This times one refinement step of a batch of 64 at
each number of rows a pass, for the bundled models (the maze one on a 13x13 and on a 17x17 maze, each on the
square its config's crop gives it), best of --repeats, and prints the rows the rule picks beside the fastest.

    python benchmarks/bench_rows.py     # on an idle CPU; writes benchmarks/results/rows_per_pass_DATE.json

Pause other work on the machine first (`kill -STOP`): figures from a busy CPU are not the machine's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from bench_speed import sample_inputs, time_steps
from report import write_report

from trmsolve.hardware import CACHE_SHARE, describe
from trmsolve.inference import pass_rows, pass_tokens
from trmsolve.models import load_model

ROWS = (1, 2, 4, 6, 8, 12, 16, 24, 32, 64)
BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="timings per point; the best is kept")
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = describe("cpu")
    print(f"{machine['cpu']}, {torch.get_num_threads()} threads, L2 {machine['l2_cache_bytes'] >> 10} KiB")
    cases = []
    for name, side in (("sudoku", 0), ("maze", 13), ("maze", 17), ("arc-demo", 0)):
        model = load_model(name, dtype="float32")
        inputs = sample_inputs(model.config, BATCH)
        if side > 13:  # a larger maze: the crop grows to hold it
            inputs.view(BATCH, 30, 30)[:, :side, :side] = inputs.view(BATCH, 30, 30)[:, :13, :13].repeat(1, 2, 2)[
                :, :side, :side
            ]
        positions = model.canvas_positions(inputs)
        tokens = pass_tokens(model, positions)
        rates = {}
        for rows in ROWS:
            best = min(time_steps(model, BATCH, inputs, 2, rows) for _ in range(args.repeats))
            rates[rows] = round(BATCH / best, 2)
        label = f"{name}" + (f" {side}x{side}" if side else "")
        picked, fastest = pass_rows(model, positions), max(rates, key=rates.get)
        state_kib = tokens * model.config.hidden_size * 4 / 1024
        cases.append(
            {"model": label, "tokens": tokens, "hidden_state_kib_per_row": round(state_kib, 1),
             "rule_picks": picked, "fastest": fastest, "puzzle_steps_per_s_by_rows": rates}
        )  # fmt: skip
        print(f"{label:14} {tokens:4} tokens, {state_kib:6.0f} KiB a row: rule {picked}, fastest {fastest}:  "
              + "  ".join(f"{r}:{v:.1f}" for r, v in rates.items()), flush=True)  # fmt: skip
    report = {"machine": machine, "cache_share": CACHE_SHARE, "batch": BATCH, "cases": cases}
    write_report(report, "rows_per_pass", args.out)


if __name__ == "__main__":
    main()

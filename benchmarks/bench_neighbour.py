"""Neighbour attention as a five-cell stencil against dense attention under the neighbour mask.

The two give the same result (tests/test_maze.py); this times them at the bundled maze model's attention shape
(4 heads of 32) on the squares a maze runs on (9x9 to the full 30x30 canvas, one prefix token; `--sides`): the
forward pass alone (solving) and forward plus backward (training), then one refinement step of the bundled maze model
at each size, as `trmsolve maze` runs it, both ways. `trmsolve.network.neighbour.STENCIL_MIN_TOKENS` picks between them
(`STENCIL_MIN_TOKENS_BF16_CPU` in bfloat16 on a CPU: `--dtype bfloat16` times both ways in that format).

    python benchmarks/bench_neighbour.py --threads 1   # writes benchmarks/results/neighbour_attention_DATE.json

Pause other work on the machine first (`kill -STOP`): figures from a busy CPU are not the machine's.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from report import write_report

import trmsolve.network.neighbour
from trmsolve.hardware import describe
from trmsolve.inference import pass_rows, run_step
from trmsolve.models import load_model
from trmsolve.network import RecursiveReasoningModel
from trmsolve.network.neighbour import neighbour_attention, neighbour_mask, off_grid_keys

SIDES = (9, 13, 17, 21, 25, 30)
HEADS, HEAD_DIM, PREFIX = 4, 32, 1


def masked_dense(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, width: int, prefix: int) -> torch.Tensor:
    """The same attention as a [T, T] boolean mask over dense scores (the model's choice on small grids)."""
    mask = neighbour_mask(torch.arange(width * width), width, prefix)
    return F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v)), attn_mask=mask).transpose(1, 2)


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best of `repeats` timed calls after one warm-up."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def attention_times(side: int, batch: int, repeats: int, dtype: torch.dtype) -> dict[str, float]:
    shape = (batch, PREFIX + side * side, HEADS, HEAD_DIM)
    q, k, v = (torch.randn(shape, dtype=dtype, requires_grad=True) for _ in range(3))
    off_grid = off_grid_keys(side, side)
    ways = {
        "stencil": lambda: neighbour_attention(q, k, v, off_grid, PREFIX),
        "masked_dense": lambda: masked_dense(q, k, v, side, PREFIX),
    }
    times = {}
    for name, attend in ways.items():
        with torch.no_grad():
            times[f"{name}_forward_ms"] = 1e3 * seconds(attend, repeats)
        times[f"{name}_train_ms"] = 1e3 * seconds(lambda f=attend: f().sum().backward(), repeats)
    return {k: round(v, 2) for k, v in times.items()}


@contextmanager
def stencil_from(tokens: int) -> Iterator[None]:
    """The model takes the stencil from `tokens` on inside the block, its own threshold after."""
    saved = trmsolve.network.neighbour.STENCIL_MIN_TOKENS, trmsolve.network.neighbour.STENCIL_MIN_TOKENS_BF16_CPU
    trmsolve.network.neighbour.STENCIL_MIN_TOKENS = trmsolve.network.neighbour.STENCIL_MIN_TOKENS_BF16_CPU = tokens
    try:
        yield
    finally:
        trmsolve.network.neighbour.STENCIL_MIN_TOKENS, trmsolve.network.neighbour.STENCIL_MIN_TOKENS_BF16_CPU = saved


def model_step(model: RecursiveReasoningModel, side: int, batch: int, repeats: int, stencil: bool) -> float:
    """Puzzle-steps per second of the maze model on side x side mazes, slices as `trmsolve` runs them, with
    neighbour attention as the stencil or as masked dense attention."""
    positions = torch.arange(side)[:, None] * model.config.canvas_side + torch.arange(side)[None, :]
    positions = None if side == model.config.canvas_side else positions.reshape(-1)
    tokens = side * side if positions is not None else model.config.seq_len
    inputs = torch.full((batch, tokens), 2)  # open cells: the cost does not depend on the maze
    with torch.inference_mode(), stencil_from(0 if stencil else 10**9):
        x = model.embed(inputs, None, positions)
        carry = model.initial_carry(batch, positions)
        rows = pass_rows(model, positions)
        return batch / seconds(lambda: run_step(model, carry, x, positions, rows), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--sides", type=int, nargs="+", default=SIDES)
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_model("maze", dtype=args.dtype).eval()
    rows = []
    for side in args.sides:
        times = attention_times(side, args.batch, args.repeats, model.dtype)
        row = {"side": side, "tokens": PREFIX + side * side, **times}
        for name, stencil in (("stencil", True), ("masked_dense", False)):
            steps_per_s = model_step(model, side, args.batch, args.repeats, stencil)
            row[f"model_{name}_puzzle_steps_per_s"] = round(steps_per_s, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    result = {"machine": describe(), "threads": torch.get_num_threads(), "batch": args.batch, "dtype": args.dtype,
              "rows": rows}  # fmt: skip
    write_report(result, "neighbour_attention", args.out)


if __name__ == "__main__":
    main()

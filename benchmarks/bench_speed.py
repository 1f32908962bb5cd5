"""How close solving gets to this machine's matmul peak, for the bundled models and published-size stand-ins.

In one run: the machine's fp32 (and bf16) matmul peak, then for each model and batch size (1, 8, 64, 256)
the puzzle-steps per second of the refinement step as `trmsolve` runs it (inference mode, the carry kept
between steps, as many puzzles a pass as fit the CPU's cache, the passes side by side on the threads), the
FLOPs of one puzzle-step computed from the model's config, and the achieved fraction of the peak (fp32; with
`--dtype bfloat16` the bf16 peak: the models run in bfloat16, as `--dtype auto` runs them where bf16 is
native). Stand-ins have random weights in the published layout (TRM, hidden 512, 8 heads, H_cycles 3, 2
layers, 16 puzzle-embedding tokens; Sudoku L_cycles 6 over 81 cells, mlp_t or attention; maze/ARC L_cycles 4
over the 900-cell canvas). A batch whose single step would take longer than --max-seconds (estimated from the
batch before it) is skipped and says so.

    python benchmarks/bench_speed.py     # on an idle CPU; writes benchmarks/results/speed_DATE.json

Pause other work on the machine first (`kill -STOP`): figures from a busy CPU are not the machine's.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from report import write_report

from trmsolve.config import ModelConfig
from trmsolve.hardware import cpu_flags, describe, map_passes, pass_slices, pass_workers
from trmsolve.inference import compile_steps, pass_rows, pass_tokens, run_step
from trmsolve.models import load_model
from trmsolve.network import RecursiveReasoningModel, build_model
from trmsolve.network.layers import swiglu_width
from trmsolve.options import DEFAULT_BATCH_SIZE
from trmsolve.runtime import keep_freed_memory

BATCHES = (1, 8, 64, 256)
PUBLISHED = dict(
    arch="trm", hidden_size=512, num_heads=8, H_cycles=3, L_layers=2, puzzle_emb_ndim=512, puzzle_emb_len=16
)
STAND_INS = {
    "published sudoku mlp_t (stand-in)": dict(
        PUBLISHED, seq_len=81, vocab_size=11, L_cycles=6, mlp_t=True, pos_encodings="none"
    ),
    "published sudoku attention (stand-in)": dict(PUBLISHED, seq_len=81, vocab_size=11, L_cycles=6),
    "published maze/ARC 900 cells (stand-in)": dict(PUBLISHED, seq_len=900, vocab_size=12, L_cycles=4),
}


def matmul_peak(dtype: torch.dtype, size: int = 1024, seconds: float = 2.0, device: str = "cpu") -> float:
    """GFLOP/s of the best of repeated size x size matmuls on `device`."""
    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    for _ in range(3):
        a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        synchronize(device)
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        synchronize(device)
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start) / 1e9)
    return best


def synchronize(device: str | torch.device) -> None:
    """Wait for the GPU's queued work (timings of CUDA kernels); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def flops_per_puzzle_step(config: ModelConfig, length: int | None = None) -> float:
    """Multiply-adds x 2 of one ACT step of one puzzle: every block application plus the heads. Neighbour
    attention counts the pairs it needs (a cell and its five keys), not the [T, T] scores masked dense attention
    computes and throws away: the work a puzzle needs, however a kernel spends it."""
    tokens = length or config.total_len
    hidden = config.hidden_size
    inner = swiglu_width(hidden, config.expansion)
    channel = 2 * tokens * hidden * 3 * inner  # gate_up (2 x inner) and down
    if config.mlp_t:
        mixing = 2 * hidden * tokens * 3 * swiglu_width(config.total_len, config.expansion)
    else:  # qkv + o, then scores and values over the (query, key) pairs attended
        prefix = config.num_prefix_tokens
        # neighbour attention: a token sees the prefix, itself and 4 neighbours; a prefix token sees every token
        pairs = tokens * (prefix + 5) + prefix * tokens if config.neighbour_attention else tokens * tokens
        mixing = 2 * tokens * hidden * 4 * hidden + 2 * 2 * pairs * hidden
    per_block = channel + mixing
    if config.arch == "trm":
        applications = config.H_cycles * (config.L_cycles + 1) * config.L_layers
    else:
        applications = config.H_cycles * (config.L_cycles * config.L_layers + config.H_layers)
    return applications * per_block + 2 * tokens * hidden * config.vocab_size


@torch.inference_mode()
def time_steps(
    model: RecursiveReasoningModel,
    batch: int,
    inputs: torch.Tensor,
    steps: int,
    rows: int | None = None,
    min_seconds: float = 0.0,
) -> float:
    """Seconds per refinement step of `batch` puzzles (after one warm-up step), `rows` puzzles a pass through
    the network (default: as trmsolve runs them): the median of runs of `steps` steps repeated for at least
    `min_seconds` (a single puzzle's step takes milliseconds; one short run of it is mostly noise)."""
    positions = model.canvas_positions(inputs)
    rows = rows or pass_rows(model, positions)
    x = model.embed(inputs, None, positions)
    carry = model.initial_carry(batch, positions)
    carry = run_step(model, carry, x, positions, rows).carry
    runs: list[float] = []
    deadline = time.perf_counter() + min_seconds
    while not runs or time.perf_counter() < deadline:
        synchronize(model.device)
        start = time.perf_counter()
        for _ in range(steps):
            carry = run_step(model, carry, x, positions, rows).carry
        synchronize(model.device)
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs)


@torch.inference_mode()
def linear_ceiling(model: RecursiveReasoningModel, batch: int, inputs: torch.Tensor) -> float:
    """GFLOP/s of the model's own linear layers timed alone, at the shapes one step gives them and side by side
    as its passes run: what the matmul library reaches on these (often thin) shapes, before any other
    operation's cost."""
    from collections import Counter

    shapes: Counter[tuple[int, int, int]] = Counter()
    hooks = [
        module.register_forward_hook(lambda m, args, out: shapes.update([(args[0].numel() // m.in_features,
                                                                          m.in_features, m.out_features)]))
        for module in model.modules()
        if isinstance(module, torch.nn.Linear)
    ]  # fmt: skip
    try:
        time_steps(model, batch, inputs, 1)
    finally:
        for hook in hooks:
            hook.remove()
    passes = pass_slices(batch, pass_rows(model, model.canvas_positions(inputs)), pass_workers(model.device))
    workers = min(pass_workers(model.device), len(passes))
    flops = seconds = 0.0
    for (m, k, n), count in shapes.items():
        a, w = torch.randn(m, k, dtype=model.dtype), torch.randn(n, k, dtype=model.dtype)
        repeats = max(3, round(2e8 / (2 * m * k * n)))  # a thin matmul takes microseconds: time a few of them
        map_passes(lambda _, a=a, w=w: multiply(a, w, 2), range(workers), model.device)
        start = time.perf_counter()
        map_passes(lambda _, a=a, w=w, r=repeats: multiply(a, w, r), range(workers), model.device)  # as passes run
        seconds += (time.perf_counter() - start) / (repeats * workers) * count
        flops += 2 * m * k * n * count
    return flops / seconds / 1e9


def multiply(a: torch.Tensor, w: torch.Tensor, repeats: int) -> None:
    for _ in range(repeats):
        a @ w.t()


def sample_inputs(config: ModelConfig, batch: int) -> torch.Tensor:
    """Tokens shaped like the task's: a full Sudoku grid, or a 13x13 maze on the canvas (walls elsewhere)."""
    inputs = torch.randint(2, config.vocab_size, (batch, config.seq_len))
    if config.seq_len == 900:
        canvas = torch.ones(batch, 30, 30, dtype=torch.long)
        canvas[:, :13, :13] = inputs.view(batch, 30, 30)[:, :13, :13].clamp(max=5)
        inputs = canvas.view(batch, 900)
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="the models' number format; fractions are of this format's matmul peak")  # fmt: skip
    parser.add_argument("--min-seconds", type=float, default=3.0, help="repeat each measurement this long at least")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="skip batches slower than this a step")
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    parser.add_argument("--only", nargs="+", default=None, help="just the models whose names contain one of these")
    parser.add_argument("--compile", action="store_true",
                        help="steps through torch.compile, as `trmsolve ... --compile` runs them")  # fmt: skip
    parser.add_argument("--handed-back", action="store_true",
                        help="glibc's malloc hands freed memory back (trmsolve keeps it: runtime.py)")  # fmt: skip
    args = parser.parse_args()
    kept = not args.handed_back and keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = describe("cpu")
    peak = {"float32": matmul_peak(torch.float32), "bfloat16": matmul_peak(torch.bfloat16, seconds=1.0)}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    print(f"{cpu}, {torch.get_num_threads()} threads, capability {machine['cpu_capability']}, "
          f"native bf16: {machine['native_bf16']}, freed memory kept: {kept}")  # fmt: skip
    print(f"matmul peak: fp32 {peak['float32']:.0f} GFLOP/s, bf16 {peak['bfloat16']:.0f} GFLOP/s")
    models: dict[str, RecursiveReasoningModel] = {
        f"bundled {name}": load_model(name, dtype=args.dtype) for name in ("sudoku", "maze", "arc-demo")
    }
    torch.manual_seed(0)
    for name, values in STAND_INS.items():
        models[name] = build_model(ModelConfig(**values)).to(getattr(torch, args.dtype)).eval()
    if args.only:
        models = {name: model for name, model in models.items() if any(part in name for part in args.only)}
    for model in models.values() if args.compile else ():
        compile_steps(model)
    rows: list[dict[str, Any]] = []
    print(f"{'model':42} {'batch':>5} {'GFLOP/step':>10} {'steps/s':>9} {'puzzles/s':>9} {'GFLOP/s':>8} {'of peak':>7}")
    for name, model in models.items():
        estimate = 0.0
        for batch in BATCHES:
            inputs = sample_inputs(model.config, batch)
            positions = model.canvas_positions(inputs)
            flops = flops_per_puzzle_step(model.config, pass_tokens(model, positions))
            if estimate * batch > args.max_seconds:
                rows.append({"model": name, "batch": batch, "skipped": f"~{estimate * batch:.0f} s a step"})
                print(f"{name:42} {batch:>5} skipped (~{estimate * batch:.0f} s a step)")
                continue
            steps = args.steps if batch < 64 else max(1, args.steps - 1)
            start = time.perf_counter()
            seconds = time_steps(model, batch, inputs, steps, min_seconds=args.min_seconds)
            elapsed = time.perf_counter() - start  # with --compile: the first batch's includes the compile
            estimate = seconds / batch
            rate = batch / seconds
            achieved = rate * flops / 1e9
            row = {
                "model": name,
                "batch": batch,
                "gflop_per_puzzle_step": round(flops / 1e9, 3),
                "puzzle_steps_per_s": round(rate, 2),
                "puzzles_per_s_at_16_steps": round(rate / 16, 3),
                "gflop_per_s": round(achieved, 1),
                "dtype": args.dtype,
                "fraction_of_peak": round(achieved / peak[args.dtype], 3),
                "compiled": args.compile,
                "seconds_measuring": round(elapsed, 1),
            }
            # The ceiling the model's own matmul shapes set for one puzzle and at the default batch, as eager passes
            # run them (one puzzle: one pass, each matmul split across the threads; a batch: passes side by side).
            if batch in (1, DEFAULT_BATCH_SIZE) and not args.compile:
                ceiling = linear_ceiling(model, batch, inputs)
                row["linear_layers_alone_gflop_per_s"] = round(ceiling, 1)
                row["linear_layers_alone_fraction_of_peak"] = round(ceiling / peak[args.dtype], 3)
            rows.append(row)
            alone = row.get("linear_layers_alone_fraction_of_peak")
            note = f"   (linear layers alone: {alone:.0%})" if alone else ""
            print(f"{name:42} {batch:>5} {flops / 1e9:>10.2f} {rate:>9.2f} {rate / 16:>9.3f} {achieved:>8.1f} "
                  f"{achieved / peak[args.dtype]:>6.0%}{note}")  # fmt: skip
    report = {
        "cpu": cpu,
        "flags_bf16": sorted(f for f in cpu_flags() if "bf16" in f or f.startswith("amx")),
        "machine": machine,
        "freed_memory_kept": kept,
        "matmul_peak_gflops": {k: round(v, 1) for k, v in peak.items()},
        "rows": rows,
    }
    write_report(report, "speed", args.out)


if __name__ == "__main__":
    main()

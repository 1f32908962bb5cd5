"""The default (verified solving) against the published rules, and start-up time, for the issues' goals:

- the default: at least 4x the puzzles/s of `--no-halt` with no accuracy lost (verified solving gains);
  the published Q-head halting (`--no-verify`) is measured beside them;
- `trmsolve --help` (and argument errors) under 0.5 s; one Sudoku with the model under 2 s wall in total.

All runs solve the same N held-out puzzles with one loaded model, in one process. Accuracy is exact match
with the CSV's answers (the share of valid answers when the CSV has none). Start-up is measured on the
installed `trmsolve` console script in fresh processes, as a user meets it.

    OMP_NUM_THREADS=2 python benchmarks/bench_halting.py --csv held_out.csv -n 1000 [--model sudoku]

Prints a table and writes the numbers as JSON (--out).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import Any

from report import write_report
from rich.console import Console
from rich.table import Table

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds import get_kind
from trmsolve.options import SolveOptions
from trmsolve.solver import Summary, read_inputs, solve

RUNS = {  # name in the report -> (how it reads on the command line, options)
    "verified": ("default (verified)", {}),
    "q_head": ("--no-verify", {"verify": False}),
    "no_halt": ("--no-halt", {"halt": False}),
}

GOAL_RATIO = 4.0
GOAL_POINTS_LOST = 0.0
GOAL_HELP_S = 0.5
GOAL_ONE_SUDOKU_S = 2.0


def trmsolve_script() -> str:
    found = shutil.which("trmsolve", path=str(Path(sys.executable).parent)) or shutil.which("trmsolve")
    if found is None:
        sys.exit("the trmsolve console script is not installed (pip install -e .)")
    return found


def wall_times(command: list[str], repeats: int) -> list[float]:
    """Wall seconds of `command` in fresh processes; the exit code does not matter (1 = wrong answer)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, timeout=300)
        times.append(time.perf_counter() - start)
    return times


def accuracy(summary: Summary) -> float:
    """Exact-match accuracy in percent where answers are known, else the share of valid answers."""
    if summary.known:
        return 100 * summary.correct / summary.known
    return 100 * summary.valid / summary.puzzles if summary.puzzles else 0.0


def run(puzzles: list, model: Any, args: argparse.Namespace, **options: Any) -> dict[str, Any]:
    summary = Summary()
    settings = SolveOptions(max_steps=args.max_steps, batch_size=args.batch_size, **options)
    for result in solve(puzzles, model, kind="sudoku", options=settings):
        summary.add(result)
    return {**summary.to_dict(), "accuracy": round(accuracy(summary), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True, help="held-out puzzles with answers (Sudoku-Extreme layout)")
    parser.add_argument("-n", type=int, default=1000, help="puzzles to solve (the first N of the CSV)")
    parser.add_argument("--model", default="sudoku", help="bundled name, directory or checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16"], help="number format")
    parser.add_argument("--batch-size", type=int, default=64, help="the CLI default")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per start-up measurement")
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    args = parser.parse_args()
    console = Console(stderr=True)
    script = trmsolve_script()

    items = list(islice(read_inputs([args.csv], "sudoku"), args.n))
    bad = [str(item) for item in items if isinstance(item, PuzzleParseError)]
    puzzles = [item for item in items if not isinstance(item, PuzzleParseError)]
    if bad:
        console.print(f"skipped {len(bad)} bad rows, first: {bad[0]}", markup=False)
    if not puzzles:
        sys.exit(f"no puzzles in {args.csv}")

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one.txt"
        one.write_text(get_kind("sudoku").to_text(puzzles[0].grid) + "\n")
        console.print("timing start-up (fresh processes)…")
        help_s = wall_times([script, "--help"], args.repeats)
        usage_s = wall_times([script, "sudoku", "--batch-size", "0", str(one)], args.repeats)
        chosen = [] if args.model == "sudoku" else ["--model", args.model]  # the default: as a user types it
        one_s = wall_times(
            [script, "sudoku", str(one), *chosen, "--device", args.device, "--dtype", args.dtype], args.repeats
        )

    from trmsolve.models import load_model

    model = load_model(args.model, device=args.device, dtype=args.dtype, task="sudoku")
    list(solve(puzzles[: min(8, len(puzzles))], model, kind="sudoku", options=SolveOptions(max_steps=1)))  # warm-up
    measured = {}
    for key, (name, options) in RUNS.items():
        console.print(f"solving {len(puzzles)} puzzles: {name}…")
        measured[key] = run(puzzles, model, args, **options)
    halting, full = measured["verified"], measured["no_halt"]
    ratio = halting["puzzles_per_second"] / full["puzzles_per_second"] if full["puzzles_per_second"] else 0.0
    lost = full["accuracy"] - halting["accuracy"]
    report = {
        "model": args.model,
        "csv": str(args.csv),
        "puzzles": len(puzzles),
        "device": args.device,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "torch_threads": _torch_threads(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        **measured,
        "throughput_ratio": round(ratio, 3),
        "accuracy_points_lost": round(lost, 3),
        "startup": {
            "help_s": _stats(help_s),
            "usage_error_s": _stats(usage_s),
            "one_sudoku_s": _stats(one_s),
        },
        "goals": {
            "ratio_at_least_4x": ratio >= GOAL_RATIO,
            "no_accuracy_lost": lost <= GOAL_POINTS_LOST,
            "help_under_half_a_second": min(help_s) < GOAL_HELP_S and min(usage_s) < GOAL_HELP_S,
            "one_sudoku_under_2s": statistics.median(one_s) < GOAL_ONE_SUDOKU_S,
        },
    }
    write_report(report, "halting", args.out)
    Console().print(_table(report))


def _stats(times: list[float]) -> dict[str, float]:
    return {"best": round(min(times), 3), "median": round(statistics.median(times), 3)}


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _table(report: dict[str, Any]) -> Table:
    title = f"{report['model']} ({report['dtype']}) on {report['puzzles']} puzzles from {report['csv']}"
    table = Table(title=title, title_justify="left")
    for column in ("run", "puzzles/s", "puzzle-steps", "accuracy %", "valid", "seconds"):
        table.add_column(column, justify="right")
    for key, (name, _) in RUNS.items():
        run_ = report[key]
        table.add_row(
            name,
            f"{run_['puzzles_per_second']:.1f}",
            f"{run_['total_steps'] / max(1, run_['puzzles']):.2f}",
            f"{run_['accuracy']:.2f}",
            f"{run_['valid']}/{run_['puzzles']}",
            f"{run_['seconds']:.1f}",
        )
    goals = report["goals"]
    startup = report["startup"]
    table.caption = (
        f"ratio {report['throughput_ratio']:.2f}x (goal >= {GOAL_RATIO:g}x: {_mark(goals['ratio_at_least_4x'])}), "
        f"accuracy lost {report['accuracy_points_lost']:.2f} points "
        f"(goal: none lost: {_mark(goals['no_accuracy_lost'])})\n"
        f"--help {startup['help_s']['best']:.2f} s, usage error {startup['usage_error_s']['best']:.2f} s "
        f"(goal < {GOAL_HELP_S} s: {_mark(goals['help_under_half_a_second'])}); "
        f"one Sudoku {startup['one_sudoku_s']['median']:.2f} s wall "
        f"(goal < {GOAL_ONE_SUDOKU_S:g} s: {_mark(goals['one_sudoku_under_2s'])})"
    )
    return table


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()

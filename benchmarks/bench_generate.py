"""Speed of the Sudoku generator (`trmsolve generate sudoku`): puzzles/s per tier with the numba-compiled
exact solver and with the pure-Python one, numba's compile time, and the few-givens option's reach.

    nice -n 19 python benchmarks/bench_generate.py    # writes benchmarks/results/generate_sudoku_DATE.json

Each run reports wall seconds and this process's CPU seconds (user + sys): on a machine shared with other
work, CPU seconds are the steadier measure. Both solvers start from the same seed, so the pure-Python run
(fewer puzzles, it is slower) must reproduce the first rows of the compiled one; the script checks that.
Compile time is measured in fresh processes with an empty numba cache (compiling) and then a filled one.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from report import write_report
from rich.console import Console
from rich.table import Table

from trmsolve.data import sudoku as data

SEED = 0
FIRST_CALL = (  # prints the wall and CPU seconds of the import and of the first call
    "import time\n"
    "clocks = [time.perf_counter(), time.process_time()]\n"
    "from trmsolve.kinds.sudoku_jit import solve_cells\n"
    "clocks += [time.perf_counter(), time.process_time()]\n"
    "solve_cells([0] * 81, 2, (0, 1))\n"
    "clocks += [time.perf_counter(), time.process_time()]\n"
    "print(clocks[2] - clocks[0], clocks[3] - clocks[1], clocks[4] - clocks[2], clocks[5] - clocks[3])\n"
)


def compile_times() -> dict[str, dict[str, float]]:
    """Seconds (wall and CPU) to import the kernel module and to make the first call: with an empty cache
    (compiles and fills it) and with that cache (loads the compiled code), each in a fresh process."""
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold_cache", "warm_cache"):
            probe = [sys.executable, "-c", FIRST_CALL]
            out = subprocess.run(probe, env=env, capture_output=True, text=True, check=True)
            names = ("import_wall_s", "import_cpu_s", "first_call_wall_s", "first_call_cpu_s")
            times[label] = {name: round(float(value), 3) for name, value in zip(names, out.stdout.split(), strict=True)}
    return times


def timed_rows(n: int, **options: Any) -> tuple[list[data.Row], dict[str, float]]:
    """The first `n` rows of `generate(n, SEED, **options)` and how long they took."""
    wall, cpu = time.perf_counter(), time.process_time()
    rows = list(data.generate(n, SEED, **options))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    numbers = {"n": n, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
    numbers |= {"per_s_wall": float(f"{n / wall:.3g}"), "per_s_cpu": float(f"{n / cpu:.3g}")}
    return rows, numbers


def save(report: dict[str, Any], path: Path | None) -> None:
    """Write the numbers so far (a long run that gets stopped keeps what it measured)."""
    write_report(report, "generate_sudoku", path)


def givens(row: data.Row) -> int:
    return sum(ch != "." for ch in row.question)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numba-n", type=int, nargs=4, default=[400, 400, 80, 200], metavar="N",
                        help="puzzles per run with numba: no-guess, search, hardest, default mix")  # fmt: skip
    parser.add_argument("--python-n", type=int, nargs=4, default=[40, 40, 8, 16], metavar="N",
                        help="the same without numba")  # fmt: skip
    parser.add_argument("--few", type=int, nargs="*", default=[20, 19], metavar="GIVENS",
                        help="few-givens bounds to measure (numba)")  # fmt: skip
    parser.add_argument("--few-n", type=int, nargs=3, default=[8, 8, 2], metavar="N",
                        help="puzzles per --few bound: no-guess, search, hardest")  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    args = parser.parse_args()

    import numba

    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "versions": {"numba": numba.__version__, "numpy": np.__version__},
        "seed": SEED,
        "numba_compile": compile_times(),
        "tiers": {},
    }
    data.solver("numba")([0] * 81, 1, None)  # loads the compiled code, so the timings below leave that out
    runs = {"numba": args.numba_n, "python": args.python_n}
    labels = {"no-guess": {"no-guess": 1}, "search": {"search": 1}, "hardest": {"hardest": 1}, "mix": data.DEFAULT_MIX}
    for i, (label, mix) in enumerate(labels.items()):
        made, numbers = {}, {}
        for backend, counts in runs.items():
            made[backend], numbers[backend] = timed_rows(counts[i], mix=mix, backend=backend)
        shorter = min(len(rows) for rows in made.values())
        if made["numba"][:shorter] != made["python"][:shorter]:
            sys.exit(f"{label}: the two solvers made different rows")
        numbers["speedup_cpu"] = round(numbers["numba"]["per_s_cpu"] / numbers["python"]["per_s_cpu"], 1)
        report["tiers"][label] = numbers
        save(report, args.out)

    report["few_givens"] = {}
    for bound in args.few:
        for label, n in zip(data.TIERS, args.few_n, strict=True):
            rows, numbers = timed_rows(n, mix={label: 1}, few_share=1.0, few_givens=bound, backend="numba")
            numbers["givens"] = dict(sorted(Counter(map(givens, rows)).items()))
            report["few_givens"].setdefault(str(bound), {})[label] = numbers
            save(report, args.out)

    table = Table(title="trmsolve generate sudoku: puzzles/s (wall | per CPU second)")
    for column in ("tier", "numba", "python", "speedup (CPU)"):
        table.add_column(column)
    for label, numbers in report["tiers"].items():
        cells = (f"{numbers[b]['per_s_wall']:g} | {numbers[b]['per_s_cpu']:g}" for b in runs)
        table.add_row(label, *cells, f"{numbers['speedup_cpu']:g}x")
    for bound, tiers in report["few_givens"].items():
        for label, numbers in tiers.items():
            table.add_row(
                f"{label}, <= {bound} givens", f"{numbers['per_s_wall']:g} | {numbers['per_s_cpu']:g}", "", ""
            )
    console = Console()
    console.print(table)
    console.print(f"numba compile: {report['numba_compile']}")
    reached = {
        bound: sorted({g for n in tiers.values() for g in n["givens"]}) for bound, tiers in report["few_givens"].items()
    }
    console.print(f"few-givens, givens reached: {reached}")


if __name__ == "__main__":
    main()

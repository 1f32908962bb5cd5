"""What `--record` costs: the same solve with and without it, in fresh processes taking turns, and the files' sizes.

The default puzzle is the hardest example maze (`examples/maze/maze-hard.csv`, row 2: 30x30, solved by another view
after about 500 puzzle-steps). `--time-limit 0` keeps every run's work the same whatever the CPU's speed.

    python benchmarks/bench_record.py --runs 2   # idle CPU; writes benchmarks/results/record_cost_DATE.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from report import write_report

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("none", ".gif", ".html")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="maze")
    parser.add_argument("--csv", default=str(ROOT / "examples" / "maze" / "maze-hard.csv"))
    parser.add_argument("--row", type=int, default=2, help="Data row of the CSV (1 = the first after the header).")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    trmsolve = shutil.which("trmsolve")
    with tempfile.TemporaryDirectory() as folder:
        lines = Path(args.csv).read_text().splitlines()
        puzzle = Path(folder) / "puzzle.csv"
        puzzle.write_text(f"{lines[0]}\n{lines[args.row]}\n")
        seconds: dict[str, list[float]] = {fmt: [] for fmt in FORMATS}
        sizes, frames = {}, None
        for _ in range(args.runs):
            for fmt in FORMATS:  # taking turns, so a drift in the machine's speed is shared
                out = Path(folder) / f"out{fmt}"
                command = [trmsolve, args.kind, str(puzzle), "--threads", str(args.threads), "--time-limit", "0"]
                command.append("--json")
                if fmt != "none":  # the plain run keeps no steps at all
                    command += ["--record", str(out), "--json-steps"]
                began = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                seconds[fmt].append(time.perf_counter() - began)
                row = json.loads(done.stdout)
                if fmt != "none":
                    frames, sizes[fmt] = len(row["trajectory"]), out.stat().st_size
        plain = statistics.median(seconds["none"])
        report = {
            "puzzle": f"{args.csv} row {args.row}",
            "threads": args.threads,
            "puzzle_steps": row["total_steps"],
            "frames": frames,
            "valid": row["valid"],
            "seconds_median": {fmt: round(statistics.median(s), 2) for fmt, s in seconds.items()},
            "seconds": {fmt: [round(x, 2) for x in s] for fmt, s in seconds.items()},
            "ratio_to_plain": {fmt: round(statistics.median(s) / plain, 3) for fmt, s in seconds.items()},
            "bytes": sizes,
        }
    print(json.dumps(report, indent=2))
    write_report(report, "record_cost")


if __name__ == "__main__":
    main()

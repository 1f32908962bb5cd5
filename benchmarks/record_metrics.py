"""Record measured held-out results in a bundled model's config.json, where `trmsolve models` shows them.

    python benchmarks/record_metrics.py weights/sudoku test \
        benchmarks/results/sudoku_eval_bench400_bf16_2026-11-24.json \
        --about "trmsolve generate sudoku 1000 --seed 3 (never trained on)" \
        --command "trmsolve eval sudoku --data data/sudoku_bench.csv --model sudoku --dtype bfloat16 --json"

The result file is the JSON line a `trmsolve eval ...--json` command printed; it is stored under `name`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("name", help="key of this measurement, e.g. test or test_small")
    parser.add_argument("result", type=Path, help="the JSON line of `trmsolve eval ... --json`")
    parser.add_argument("--about", required=True, help="what the held-out data is")
    parser.add_argument("--command", required=True, help="the command that produced the result")
    args = parser.parse_args()
    config_file = args.model_dir / "config.json"
    config = json.loads(config_file.read_text())
    result = json.loads(args.result.read_text().splitlines()[-1])
    data = Path(str(result.get("data", "")))
    if data.is_absolute():  # nothing machine-specific in a shipped file: the data set by name only
        result["data"] = data.name if not data.is_relative_to(Path.cwd()) else str(data.relative_to(Path.cwd()))
    config.setdefault("metrics", {})[args.name] = {"held_out": args.about, "command": args.command, **result}
    config_file.write_text(json.dumps(config, indent=2) + "\n")
    print(f"{config_file}: metrics.{args.name} recorded")


if __name__ == "__main__":
    main()

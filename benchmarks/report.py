"""Where a benchmark writes its result: one JSON file per run, named after the benchmark and the day, carrying the
date, the machine and the command that produced it, so a figure in the docs can always be traced and rerun."""

from __future__ import annotations

import datetime
import json
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

from trmsolve.hardware import cpu_model

RESULTS = Path(__file__).parent / "results"


def dated_path(name: str) -> Path:
    """benchmarks/results/NAME_YYYY-MM-DD.json for today."""
    return RESULTS / f"{name}_{datetime.date.today().isoformat()}.json"


def write_report(report: dict[str, Any], name: str, out: Path | None = None) -> Path:
    """Write `report` to `out` (default: `dated_path(name)`) with when, where and how it was measured."""
    path = out or dated_path(name)
    stamped = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model() or platform.processor(),
        "command": shlex.join(["python", *sys.argv]),
        **report,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    print(f"wrote {path}", file=sys.stderr)
    return path

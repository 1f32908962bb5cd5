"""The prepared GPU check (benchmarks/gpu_check.py) keeps working where there is no GPU: it runs every part on
the CPU at small sizes, says that nothing was measured, and fails a part whose check fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parent.parent / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: run benchmarks/gpu_check.py itself")
def test_the_gpu_check_runs_dry_on_a_cpu(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no CUDA device" in done.stdout
    report = json.loads(out.read_text())
    assert report["device"].startswith("cpu (dry run") and report["failed"] == []
    assert report["torchrun"]["rows"] == 4 and report["verdicts"]["sudoku"]["ok"]
    assert all(entry["ok"] for entry in report["published"].values() if isinstance(entry, dict))

"""The GPU path, checked in one run of a few minutes on one GPU:

1. verdicts: the bundled Sudoku and maze models solve their examples on the GPU in float32 and bfloat16 with
   the verdicts (and, in float32, the answers) of the CPU in float32;
2. published checkpoints: the published-format stand-ins of tests/fixtures/reference give the published code's
   outputs on the GPU (the largest difference from the CPU's logits, step by step);
3. throughput: puzzle-steps per second of the bundled Sudoku model and a published-size stand-in (TRM, hidden
   512, mlp_t) at batch 256, 512 and 1024 in bfloat16, against the GPU's own bfloat16 matmul peak;
4. torchrun: one rank on the GPU, `torchrun --standalone --nproc-per-node 1 -m trmsolve sudoku ... --json`;
5. training: a few optimiser steps of a small model in bfloat16 autocast.

    python benchmarks/gpu_check.py      # writes benchmarks/results/gpu_check_DATE.json

Without a GPU it runs every part on the CPU at small sizes (batch 2, two training steps) and says so: a dry run
that keeps the script itself working (the test suite runs it), not a measurement of anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from bench_speed import flops_per_puzzle_step, matmul_peak, synchronize, time_steps
from report import write_report

from trmsolve.config import ModelConfig
from trmsolve.inference import refine
from trmsolve.models import load_model
from trmsolve.network import build_model
from trmsolve.options import SolveOptions
from trmsolve.solver import read_inputs, solve

ROOT = Path(__file__).parent.parent
EXAMPLES = {"sudoku": ROOT / "examples" / "sudoku" / "collection.txt", "maze": ROOT / "examples" / "maze" / "small.txt"}
REFERENCE = ROOT / "tests" / "fixtures" / "reference"


def verdicts(device: str, kind: str, dtype: str) -> list[tuple[bool, str]]:
    """(valid, answer) of every example puzzle of `kind`, solved by the bundled model with default settings."""
    model = load_model(kind, device=device, dtype=dtype)
    puzzles = list(read_inputs([str(EXAMPLES[kind])], kind))
    results = sorted(solve(puzzles, model, kind=kind, options=SolveOptions()), key=lambda r: r.index)
    return [(r.verdict.valid, r.text) for r in results]


def check_verdicts(device: str) -> dict[str, Any]:
    """float32 on `device` must give the CPU's verdicts; bfloat16 (on a GPU: a CPU without native bfloat16 runs
    it far slower) as many valid answers."""
    report: dict[str, Any] = {}
    for kind in EXAMPLES:
        cpu, fp32 = verdicts("cpu", kind, "float32"), verdicts(device, kind, "float32")
        bf16 = verdicts(device, kind, "bfloat16") if device != "cpu" else cpu
        report[kind] = {
            "puzzles": len(cpu),
            "valid_cpu_fp32": sum(v for v, _ in cpu),
            "valid_fp32": sum(v for v, _ in fp32),
            "valid_bf16": sum(v for v, _ in bf16) if device != "cpu" else "not run on a CPU",
            "answers_equal_fp32": sum(a == b for a, b in zip(cpu, fp32, strict=True)),
            "ok": [v for v, _ in fp32] == [v for v, _ in cpu] and sum(v for v, _ in bf16) >= sum(v for v, _ in cpu),
        }
    return report


def check_published(device: str) -> dict[str, Any]:
    from safetensors.torch import load_file

    report: dict[str, Any] = {}
    for path in sorted(REFERENCE.glob("*.pt")):
        name = path.stem
        config = json.loads((REFERENCE / f"{name}.config.json").read_text())
        expected = load_file(str(REFERENCE / f"{name}.expected.safetensors"))
        inputs, ids = expected["inputs"], expected["puzzle_identifiers"]
        runs = {}
        for where in ("cpu", device):
            model = load_model(path, config=config, device=where, dtype="float32")
            runs[where] = [r.logits.cpu() for r in refine(model, inputs, ids, max_steps=2, halt=False)]
        diffs = [float((a - b).abs().max()) for a, b in zip(runs["cpu"], runs[device], strict=True)]
        published = float((runs[device][0] - expected["step1.logits"]).abs().max())
        report[name] = {"max_abs_diff_vs_cpu": diffs, "max_abs_diff_vs_published_step1": published,
                        "ok": published < 1e-3}  # fmt: skip
    return report


def check_throughput(device: str, batches: list[int], steps: int = 5) -> dict[str, Any]:
    dtype = torch.bfloat16 if device != "cpu" else torch.float32
    peak = matmul_peak(dtype, 8192 if device != "cpu" else 512, seconds=2.0 if device != "cpu" else 0.5, device=device)
    published = ModelConfig(hidden_size=512, num_heads=8, mlp_t=True, pos_encodings="none", puzzle_emb_ndim=512,
                            puzzle_emb_len=16)  # fmt: skip
    models = {"bundled sudoku": load_model("sudoku", device=device, dtype=dtype),
              "published-size sudoku (random weights)": build_model(published).to(device, dtype).eval()}  # fmt: skip
    report: dict[str, Any] = {"dtype": str(dtype).removeprefix("torch."), "matmul_peak_gflops": round(peak)}
    for name, model in models.items():
        flops = flops_per_puzzle_step(model.config)
        rows = {}
        for batch in batches:
            inputs = torch.randint(1, model.config.vocab_size, (batch, model.config.seq_len), device=device)
            rate = batch / time_steps(model, batch, inputs, steps)
            rows[batch] = {
                "puzzle_steps_per_s": round(rate, 1),
                "fraction_of_peak": round(rate * flops / 1e9 / peak, 3),
            }
        report[name] = {"gflop_per_puzzle_step": round(flops / 1e9, 3), "batches": rows}
    return report


def check_torchrun(device: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1", "-m",
               "trmsolve", "sudoku", str(EXAMPLES["sudoku"]), "--json", "--device", device]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    return {
        "exit": done.returncode,
        "rows": len(rows),
        "valid": sum(r["valid"] for r in rows),
        "seconds": round(time.perf_counter() - start, 1),
        "ok": done.returncode == 0 and len(rows) == len(list(read_inputs([str(EXAMPLES["sudoku"])], "sudoku"))),
        "stderr_tail": done.stderr[-500:] if done.returncode else "",
    }


def check_training(device: str, steps: int = 5) -> dict[str, Any]:
    from trmsolve.train import TrainConfig, Trainer, default_model_config

    with tempfile.TemporaryDirectory() as out:
        data = ROOT / "tests" / "fixtures" / "data" / "sudoku_eval_64.csv"
        config = TrainConfig(task="sudoku", data=str(data), out=out, batch_size=32, lr_warmup_steps=2,
                             model=default_model_config("sudoku", hidden_size=128), dtype="auto")  # fmt: skip
        trainer = Trainer(config, log=lambda _: None)
        losses, start = [], time.perf_counter()
        for _ in range(steps):
            losses.append(trainer.train_step()["loss"])
        synchronize(trainer.device)
        return {
            "device": str(trainer.device),
            "autocast": str(trainer.autocast_dtype).removeprefix("torch."),
            "losses": [round(v, 4) for v in losses],
            "seconds_a_step": round((time.perf_counter() - start) / steps, 3),
            "ok": all(v == v and v < 100 for v in losses),
        }


PARTS: dict[str, Callable[..., dict[str, Any]]] = {
    "verdicts": check_verdicts,
    "published": check_published,
    "throughput": check_throughput,
    "torchrun": check_torchrun,
    "training": check_training,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="Result file (default: results/gpu_check_DATE.json).")
    parser.add_argument("--only", nargs="+", choices=list(PARTS), default=list(PARTS))
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if gpu else "cpu (dry run: no CUDA device, nothing measured)",
        "torch": torch.__version__,
    }
    if not gpu:
        print("no CUDA device: every part runs on the CPU at small sizes, to keep this script working", flush=True)
    for name in args.only:
        start = time.perf_counter()
        kwargs: dict[str, Any] = {}
        if name == "throughput":
            kwargs = {"batches": [256, 512, 1024]} if gpu else {"batches": [2], "steps": 1}
        elif name == "training" and not gpu:
            kwargs = {"steps": 2}
        report[name] = PARTS[name](device, **kwargs)
        report[name]["part_seconds"] = round(time.perf_counter() - start, 1)
        print(f"{name}: {json.dumps(report[name])}", flush=True)
    failed = [name for name in args.only if report[name].get("ok") is False]
    report["failed"] = failed
    write_report(report, "gpu_check" if gpu else "gpu_check_dry_run", args.out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

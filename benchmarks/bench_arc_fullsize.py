"""A full-size ARC checkpoint on this machine: conversion, peak memory, time to the first answer, seconds a view.

Writes a stand-in with the shapes of `arcprize/trm_arc_prize_verification/arc_v1_public/step_518071` (the ARC
Prize's TRM ARC-AGI-1 checkpoint, 1.82 GB): 876,406 puzzle identifiers x 512 puzzle-embedding width plus the
published hidden-512 network (8 heads, H_cycles 3, L_cycles 4, 2 layers, 16 puzzle-embedding tokens, rotary
positions), random weights, the published key names, saved with torch.save as the training code does. Then runs
the real CLI in child processes and measures each one's wall time and peak resident memory (ru_maxrss):

- `trmsolve convert`: the published file to our format (the Hub path does this once per commit);
- `trmsolve arc` on one test input of examples/arc/b1948b0a.json with --views 1 and --views 8 (the published
  evaluation's 16 steps, no early halting), from the converted folder and straight from the published file,
  with an identifier map that gives that task 1,001 views (the rest of the rows are filler tasks).

Nothing this large is committed: the stand-in goes to --work (deleted at the end unless --keep).

    python benchmarks/bench_arc_fullsize.py    # on an idle CPU; writes benchmarks/results/arc_fullsize_DATE.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from report import write_report

from trmsolve.config import ModelConfig
from trmsolve.hardware import describe
from trmsolve.network import build_model

IDENTIFIERS = 876_406  # rows of puzzle_emb.weights in arc_v1_public/step_518071
TASK = "b1948b0a"
TASK_FILE = Path(__file__).parent.parent / "examples" / "arc" / f"{TASK}.json"
ARCH = {
    "name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
    "hidden_size": 512,
    "num_heads": 8,
    "expansion": 4,
    "H_cycles": 3,
    "L_cycles": 4,
    "H_layers": 0,
    "L_layers": 2,
    "puzzle_emb_ndim": 512,
    "puzzle_emb_len": 16,
    "pos_encodings": "rope",
    "halt_max_steps": 16,
    "halt_exploration_prob": 0.1,
    "no_ACT_continue": True,
    "mlp_t": False,
    "forward_dtype": "bfloat16",
}
PREFIX = "_orig_mod.model.inner."


def write_stand_in(folder: Path, rows: int) -> Path:
    """step_518071 + all_config.yaml in `folder`, with `rows` puzzle identifiers."""
    folder.mkdir(parents=True, exist_ok=True)
    config = ModelConfig.from_published(ARCH, seq_len=900, vocab_size=12, num_puzzle_identifiers=rows)
    with torch.device("meta"):
        shapes = {name: (t.shape, t.dtype) for name, t in build_model(config).state_dict().items()}
    generator = torch.Generator().manual_seed(0)
    state = {PREFIX + name: torch.randn(shape, generator=generator, dtype=dtype) * 0.02 for name, (shape, dtype) in
             shapes.items()}  # fmt: skip
    weights = folder / "step_518071"
    torch.save(state, weights)
    (folder / "all_config.yaml").write_text(yaml.safe_dump({"arch": ARCH, "global_batch_size": 768}))
    return weights


def write_identifier_map(path: Path, rows: int) -> None:
    """<blank>, the task's plain version and 1,000 augmentations (the builder's name format), then filler tasks."""
    rng = np.random.default_rng(0)
    names = ["<blank>", f"{TASK}|||t0|||0123456789"]
    for k in range(1000):
        perm = "0" + "".join(map(str, rng.permutation(np.arange(1, 10))))
        names.append(f"{TASK}|||t{(k + 1) % 8}|||{perm}")
    names += [f"filler{i:06d}" for i in range(rows - len(names))]
    path.write_text(json.dumps(names))


def measured(command: list[str]) -> dict[str, Any]:
    """Wall seconds and peak RSS (bytes) of `command`, run in a fresh child process of a fresh wrapper."""
    wrapper = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode); "
        "sys.stderr.write(done.stderr[-2000:])"
    )
    child = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True)
    seconds, max_rss_kb, code = child.stdout.split()
    if int(code) not in (0, 1):  # 1: a wrong answer (random weights), which is expected
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{child.stderr}")
    return {"seconds": round(float(seconds), 2), "peak_rss_bytes": int(max_rss_kb) * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trmsolve-arc-fullsize"))
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    parser.add_argument("--threads", type=int, default=None, help="--threads for the solving runs.")
    parser.add_argument("--keep", action="store_true", help="Keep the stand-in files.")
    parser.add_argument("--rows", type=int, default=IDENTIFIERS, help="Puzzle identifiers (smaller: a dry run).")
    args = parser.parse_args()

    trmsolve = [str(Path(sys.executable).parent / "trmsolve")]
    start = time.perf_counter()
    weights = write_stand_in(args.work / "arc_v1_public", args.rows)
    write_seconds = time.perf_counter() - start
    identifiers = args.work / "identifiers.json"
    write_identifier_map(identifiers, args.rows)
    size = weights.stat().st_size
    print(f"stand-in: {weights} ({size / 1e9:.2f} GB, written in {write_seconds:.0f} s)", flush=True)

    converted = args.work / "converted"
    shutil.rmtree(converted, ignore_errors=True)
    rows: dict[str, dict[str, Any]] = {}
    rows["convert"] = measured([*trmsolve, "convert", str(weights), "-o", str(converted), "--task", "arc"])
    print(f"convert: {rows['convert']}", flush=True)
    solve = ["arc", str(TASK_FILE), "--identifiers", str(identifiers), "--no-halt", "--json", "--quiet"]
    solve += ["--threads", str(args.threads)] if args.threads else []
    for source, model in (("converted", converted), ("published file", weights)):
        for views in (1, 8):
            name = f"arc --views {views} from the {source}"
            rows[name] = measured([*trmsolve, *solve, "--model", str(model), "--views", str(views)])
            print(f"{name}: {rows[name]}", flush=True)
    one, eight = rows["arc --views 1 from the converted"], rows["arc --views 8 from the converted"]
    per_view = (eight["seconds"] - one["seconds"]) / 7
    result = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), **describe()},
        "torch": torch.__version__,
        "file_bytes": size,
        "identifiers": args.rows,
        "runs": rows,
        "peak_rss_over_file": {name: round(row["peak_rss_bytes"] / size, 2) for name, row in rows.items()},
        "seconds_per_view": round(per_view, 2),
        "seconds_first_answer": one["seconds"],
        "projected_seconds_1000_views": round(one["seconds"] + 999 * per_view),
    }
    print(json.dumps(result, indent=1))
    write_report(result, "arc_fullsize", args.out)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()

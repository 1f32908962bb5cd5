"""Which part of a training run's weight change moved a held-out figure: the base model with the run's prefix
embedding only, with its other (dense) weights only, with all of them, and with a random change of the same size
in every tensor, each evaluated on one CSV (one view, every step, and Q-head halting).

A fine-tuning run can lose what its base model solved while its training loss stays flat (weights/maze/README.md,
session 19): this tells a harmful direction from a harmful size, and the prefix token from the network.

    python benchmarks/weight_change_parts.py --base weights/maze --changed training/maze-nbr/n32/checkpoint.pt \
        --data data/maze_l6_select50.csv
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from trmsolve.data.maze import load_tokens
from trmsolve.evaluation import evaluate
from trmsolve.models import load_model

Weights = dict[str, torch.Tensor]


def changed_weights(source: Path) -> Weights:
    """A model directory's weights, or the EMA weights of a run's checkpoint.pt (what its export would write)."""
    if source.is_dir():
        return load_file(source / "model.safetensors")
    return torch.load(source, map_location="cpu", weights_only=True)["ema"]


def variants(base: Weights, changed: Weights, seed: int) -> dict[str, Callable[[str], torch.Tensor]]:
    """Each variant as the tensor it takes for each name."""
    generator = torch.Generator().manual_seed(seed)
    random_change = {}
    for name, tensor in base.items():
        size = (changed[name].float() - tensor.float()).norm()
        direction = torch.randn(tensor.shape, generator=generator)
        random_change[name] = tensor.float() + direction / direction.norm().clamp_min(1e-12) * size
    prefix = lambda name: name.startswith("puzzle_emb.")  # noqa: E731
    return {
        "base": lambda name: base[name],
        "prefix embedding changed": lambda name: changed[name] if prefix(name) else base[name],
        "other weights changed": lambda name: base[name] if prefix(name) else changed[name],
        "all changed": lambda name: changed[name],
        "random change of the same size": lambda name: random_change[name],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="model directory the run started from")
    parser.add_argument("--changed", type=Path, required=True, help="model directory or a run's checkpoint.pt")
    parser.add_argument("--data", required=True, help="maze CSV (source,question,answer,rating)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_file(args.base / "model.safetensors")
    changed = changed_weights(args.changed)
    inputs, labels, _ = load_tokens(args.data)
    identifiers = np.zeros(len(inputs), np.int64)
    with tempfile.TemporaryDirectory() as scratch:
        for label, pick in variants(base, changed, args.seed).items():
            model_dir = Path(scratch) / "model"
            shutil.rmtree(model_dir, ignore_errors=True)
            shutil.copytree(args.base, model_dir)
            save_file({name: pick(name).contiguous() for name in base}, model_dir / "model.safetensors")
            with torch.inference_mode():
                result = evaluate(load_model(str(model_dir), dtype=args.dtype), inputs, labels, identifiers)
            summary = {mode: {k: result[mode][k] for k in ("exact", "reached")} for mode in ("all_steps", "halting")}
            print(json.dumps({"variant": label, "data": args.data, "n": len(inputs), **summary}), flush=True)


if __name__ == "__main__":
    main()

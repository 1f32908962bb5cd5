"""Does a maze model answer a maze the same wherever it sits on the canvas? Exact answers and answers reached at
some step (one view, every step run, and with Q-head halting) for the mazes of a CSV as given and moved down and
right by each offset (the cells they leave become wall).

Neighbour attention is the same local rule at every cell, but a model whose prefix token scores the cells with
rotary positions sees each cell's distance from the canvas's top-left corner, and a rule trained on the top-left
21x21 need not hold elsewhere (`ModelConfig.position_free_prefix`; weights/maze/README.md, session 19).

    sed -n '1p;52,101p' data/maze_l6_select.csv > data/l6_held50.csv
    python benchmarks/maze_shift.py --model maze --data data/l6_held50.csv --offsets 0 1 4 9
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from trmsolve.data.maze import load_tokens
from trmsolve.evaluation import evaluate
from trmsolve.kinds.maze import CANVAS, CHAR_TO_TOKEN, WALL
from trmsolve.models import load_model

WALL_TOKEN = int(CHAR_TO_TOKEN[WALL])


def moved(canvases: np.ndarray, offset: int) -> np.ndarray:
    """[N, 900] canvases with each maze moved `offset` cells down and right; refuses mazes that would leave it."""
    grids = canvases.reshape(-1, CANVAS, CANVAS)
    kept = grids[:, : CANVAS - offset, : CANVAS - offset]
    if (grids != WALL_TOKEN).sum() != (kept != WALL_TOKEN).sum():
        raise SystemExit(f"a maze reaches the last {offset} rows or columns: it cannot move {offset} cells")
    out = np.full_like(grids, WALL_TOKEN)
    out[:, offset:, offset:] = kept
    return out.reshape(len(canvases), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="maze")
    parser.add_argument("--data", required=True, help="maze CSV (source,question,answer,rating)")
    parser.add_argument("--offsets", type=int, nargs="+", default=[0, 9])
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model, dtype=args.dtype)
    inputs, labels, _ = load_tokens(args.data)
    identifiers = np.zeros(len(inputs), np.int64)
    with torch.inference_mode():
        for offset in args.offsets:
            result = evaluate(model, moved(inputs, offset), moved(labels, offset), identifiers)
            summary = {mode: {k: result[mode][k] for k in ("exact", "reached")} for mode in ("all_steps", "halting")}
            print(json.dumps({"model": args.model, "data": args.data, "offset": offset, "n": len(inputs), **summary}))


if __name__ == "__main__":
    main()

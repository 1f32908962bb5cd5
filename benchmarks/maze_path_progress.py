"""How a maze model's path grows step by step: the share of the true path's cells it draws, the cells it draws
off the path, and the exact answers, at each of a set of steps, running every step (no halting).

A model that carries work from one step to the next keeps drawing more of a long path; one that does not
plateaus after a few steps (weights/maze/README.md, session 12).

    trmsolve generate maze 20 --seed 2203 --small-share 1 --small-sides 17-17 --min-path 40 \
        --algorithms dfs,prim,kruskal,wilson -o p17.csv
    python benchmarks/maze_path_progress.py --model maze --data p17.csv --steps 48
"""

from __future__ import annotations

import argparse

import torch

from trmsolve.data.maze import load_tokens
from trmsolve.inference import refine
from trmsolve.kinds.maze import CHAR_TO_TOKEN, PATH
from trmsolve.models import load_model

PATH_TOKEN = int(CHAR_TO_TOKEN[PATH])
REPORTED = (1, 2, 4, 8, 16, 24, 32, 48, 64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="maze")
    parser.add_argument("--data", required=True, help="maze CSV (source,question,answer,rating)")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--steps", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model, dtype="float32")
    inputs, labels, _ = load_tokens(args.data)
    inputs, labels = inputs[: args.limit], labels[: args.limit]
    on_path = labels == PATH_TOKEN
    with torch.inference_mode():
        for record in refine(model, inputs, max_steps=args.steps, halt=False):
            if record.step in REPORTED or record.step == args.steps:
                predicted = record.predictions.numpy()
                drawn = predicted == PATH_TOKEN
                recall = (drawn & on_path).sum() / on_path.sum()
                off_path = (drawn & ~on_path).sum(1).mean()
                exact = (predicted == labels).all(1).sum()
                print(f"step {record.step:3}: path cells drawn {recall:4.0%}, off-path cells a maze {off_path:4.1f}, "
                      f"exact {exact} of {len(inputs)}")  # fmt: skip


if __name__ == "__main__":
    main()

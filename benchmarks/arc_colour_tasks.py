"""Write ARC tasks of the colour-rule family, made by seed, for the `--adapt` experiment of the arc-demo card.

The arc-demo network learned colour rules (it solves b1948b0a, 0d3d703e and d511f180 on held-out test
inputs) and no geometric one, so `--adapt` can only be expected to lift unseen tasks of that family; the
ARC-AGI-1 corpus holds one such task outside its training set (c8f0f002). These tasks, none of them in its
training data, measure that: each maps cell colours by a fixed rule drawn here (recolour one colour, swap
two, or permute three), with 3-4 demonstrations and one test input of random grids 3-10 a side. Maps equal
to a trained task's (6->2, 5<->8, 0d3d703e's) are skipped. Kaggle layout:

    python benchmarks/arc_colour_tasks.py data/arc-colour --n 10 --seed 0
    trmsolve eval arc --data data/arc-colour --subset colour --model arc-demo --dtype bfloat16 --adapt --json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

TRAINED_MAPS = [{6: 2}, {5: 8, 8: 5}, {3: 4, 1: 5, 2: 6, 8: 9, 5: 1, 6: 2, 9: 8, 4: 3}]


def colour_map(rng: np.random.Generator) -> dict[int, int]:
    """A recolouring of one colour, a swap of two, or a cycle of three (0, the background, stays)."""
    kind = rng.integers(3)
    colours = [int(c) for c in rng.choice(np.arange(1, 10), size=3, replace=False)]
    if kind == 0:
        return {colours[0]: colours[1]}
    if kind == 1:
        return {colours[0]: colours[1], colours[1]: colours[0]}
    return {colours[0]: colours[1], colours[1]: colours[2], colours[2]: colours[0]}


def grid(rng: np.random.Generator, mapping: dict[int, int]) -> list[list[int]]:
    """A random grid on background 0 showing every colour the map moves, and some it keeps."""
    rows, cols = (int(n) for n in rng.integers(3, 11, size=2))
    palette = [*mapping, *(int(c) for c in rng.choice(np.arange(1, 10), size=2))]
    cells = rng.choice([0, *palette], size=(rows, cols))
    cells.flat[rng.choice(rows * cols, size=len(mapping), replace=False)] = list(mapping)
    return cells.tolist()


def apply(mapping: dict[int, int], cells: list[list[int]]) -> list[list[int]]:
    return [[mapping.get(c, c) for c in row] for row in cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    challenges, solutions = {}, {}
    while len(challenges) < args.n:
        mapping = colour_map(rng)
        if mapping in TRAINED_MAPS:
            continue
        task = f"colour{len(challenges):02d}"
        demos = [grid(rng, mapping) for _ in range(int(rng.integers(3, 5)))]
        test = grid(rng, mapping)
        train = [{"input": g, "output": apply(mapping, g)} for g in demos]
        challenges[task] = {"train": train, "test": [{"input": test}]}
        solutions[task] = [apply(mapping, test)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "arc-agi_colour_challenges.json").write_text(json.dumps(challenges))
    (args.out / "arc-agi_colour_solutions.json").write_text(json.dumps(solutions))
    print(f"wrote {len(challenges)} tasks to {args.out}")


if __name__ == "__main__":
    main()

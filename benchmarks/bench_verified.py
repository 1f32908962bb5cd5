"""Verified solving's accuracy against compute, for choosing its defaults and for the plot in docs/.

For every puzzle of each set, the puzzle as given runs --max-steps steps and records the first step whose
answer passes the Sudoku check; where it has not passed by the checkpoint's own 16 steps, each of the other
--views symmetric views runs --max-steps steps too. From these first-pass steps the accuracy and the
puzzle-steps of every (views, steps per view) setting follow exactly as `trmsolve.search` runs them (the
other views join at step 16 and every view of a puzzle stops at the first pass). The published protocols
(one view: all 16 steps; Q-head halting) are read off the same run of the puzzle as given.

    python benchmarks/bench_verified.py news=data/v_news.csv 25-clue=data/v_25.csv hardest=data/v_hard.csv \\
        --out benchmarks/results/verified_curve_2026-11-25.json --plot docs/verified_curve.png

Plotting needs matplotlib (`pip install -e ".[bench]"`).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from report import write_report

from trmsolve.inference import run_step
from trmsolve.kinds import get_kind
from trmsolve.models import load_model
from trmsolve.search import puzzle_seed
from trmsolve.solver import read_inputs

KIND = get_kind("sudoku")
STEPS = (16, 32, 48, 64)
VIEWS = (1, 2, 4, 8)


def first_passes(model: Any, puzzles: list, views: list[list[Any]], max_steps: int) -> tuple[np.ndarray, dict]:
    """[puzzles, views] first step whose answer passes (0: never within max_steps), and the published
    protocols' correctness read off the puzzle as given."""
    passes = np.zeros((len(puzzles), len(views[0])), dtype=np.int64)
    published = {"all_steps": np.zeros(len(puzzles), bool), "q_head": np.zeros(len(puzzles), bool)}
    q_steps = np.zeros(len(puzzles), dtype=np.int64)
    trained = model.info.default_steps

    @torch.inference_mode()
    def run(rows: list[tuple[int, int]]) -> None:
        """Refine the rows together; a row leaves once it has passed (and, for the puzzle as given, once the
        published protocols have been read off its first `trained` steps)."""
        tokens = torch.from_numpy(np.stack([KIND.encode(views[p][v].apply(puzzles[p])) for p, v in rows]))
        x, carry, live = model.embed(tokens), model.initial_carry(len(rows)), list(range(len(rows)))
        for step in range(1, max_steps + 1):
            out = run_step(model, carry, x)
            predictions = out.logits.argmax(-1).numpy()
            halts = model.halts(out.q_halt_logits, out.q_continue_logits).numpy()
            keep = []
            for r, row in enumerate(live):
                p, v = rows[row]
                answer = views[p][v].inverse(KIND.decode(predictions[r], puzzles[p]))
                ok = bool(KIND.accepts(puzzles[p], answer))
                if ok and not passes[p, v]:
                    passes[p, v] = step
                if v == 0 and step == trained:
                    published["all_steps"][p] = ok
                if v == 0 and not q_steps[p] and (halts[r] or step == trained):
                    q_steps[p], published["q_head"][p] = step, ok
                if not (passes[p, v] and (v > 0 or step >= trained)):
                    keep.append(r)
            if not keep:
                return
            index = torch.tensor(keep)
            x, carry, live = x[index], out.carry.select(index), [live[r] for r in keep]

    run([(p, 0) for p in range(len(puzzles))])
    retry = [(p, v) for p in range(len(puzzles)) if not 0 < passes[p, 0] <= trained for v in range(1, len(views[p]))]
    if retry:
        run(retry)
    return passes, {**published, "q_steps": q_steps}


def simulate(passes: np.ndarray, views: int, steps: int, spawn_at: int) -> tuple[np.ndarray, np.ndarray]:
    """Solved flags and puzzle-steps per puzzle of verified solving with `views` views of `steps` steps."""
    solved, cost = np.zeros(len(passes), bool), np.zeros(len(passes), np.int64)
    for p, row in enumerate(passes):
        finish = [row[0] if 0 < row[0] <= steps else None]  # global step at which each view passes
        finish += [spawn_at + f if 0 < f <= steps else None for f in row[1:views]] if views > 1 else []
        done = min((f for f in finish if f is not None), default=None)
        end = done if done is not None else (steps if views == 1 or steps <= spawn_at else spawn_at + steps)
        solved[p] = done is not None
        cost[p] = min(end, steps)  # the puzzle as given
        if views > 1 and end > spawn_at and not (0 < row[0] <= spawn_at):
            cost[p] += (views - 1) * min(end - spawn_at, steps)
    return solved, cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="NAME=CSV held-out sets (Sudoku-Extreme layout, with answers)")
    parser.add_argument("--model", default="sudoku")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-steps", type=int, default=max(STEPS))
    parser.add_argument("--views", type=int, default=max(VIEWS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--out", type=Path, default=None, help="Result file (default: benchmarks/results/NAME_DATE.json)."
    )
    parser.add_argument("--plot", type=Path, default=None, help="PNG of accuracy against puzzle-steps")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, dtype=args.dtype, task="sudoku")
    spawn_at = model.info.default_steps
    allowed = model.info.encoding.get("symmetries")
    report: dict[str, Any] = {
        "model": args.model,
        "dtype": str(model.dtype).removeprefix("torch."),
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "torch_threads": torch.get_num_threads(),
        "sets": {},
    }
    for spec in args.sets:
        name, _, path = spec.partition("=")
        puzzles = [p for p in read_inputs([path], "sudoku") if not isinstance(p, Exception)]
        views = [KIND.symmetries(p, args.views, puzzle_seed(p, 0), allowed) for p in puzzles]
        started = time.perf_counter()
        passes = np.zeros((0, args.views), np.int64)
        published: dict[str, list] = {"all_steps": [], "q_head": [], "q_steps": []}
        for i in range(0, len(puzzles), args.batch_size):  # batches keep memory flat
            chunk_passes, chunk = first_passes(
                model, puzzles[i : i + args.batch_size], views[i : i + args.batch_size], args.max_steps
            )
            passes = np.concatenate((passes, chunk_passes))
            for key in published:
                published[key] += chunk[key].tolist()
        givens = [int((p.grid > 0).sum()) for p in puzzles]
        entry: dict[str, Any] = {
            "csv": path,
            "puzzles": len(puzzles),
            "givens": [min(givens), max(givens)],
            "seconds": round(time.perf_counter() - started, 1),
            "published_all_steps": {"accuracy": float(np.mean(published["all_steps"])), "puzzle_steps": spawn_at},
            "published_q_head": {
                "accuracy": float(np.mean(published["q_head"])),
                "puzzle_steps": float(np.mean(published["q_steps"])),
            },
            "verified": [],
        }
        for v in VIEWS:
            for s in STEPS:
                if v <= args.views and s <= args.max_steps:
                    solved, cost = simulate(passes, v, s, spawn_at)
                    entry["verified"].append(
                        {"views": v, "steps": s, "accuracy": float(solved.mean()), "puzzle_steps": float(cost.mean())}
                    )
        report["sets"][name] = entry
        best = max(entry["verified"], key=lambda e: (e["accuracy"], -e["puzzle_steps"]))
        print(
            f"{name}: {len(puzzles)} puzzles, published all steps {entry['published_all_steps']['accuracy']:.1%}, "
            f"Q head {entry['published_q_head']['accuracy']:.1%}; verified best {best['accuracy']:.1%} "
            f"({best['views']} views x {best['steps']} steps, {best['puzzle_steps']:.1f} puzzle-steps)",
            flush=True,
        )
    args.out = write_report(report, "verified_curve", args.out)
    if args.plot:
        plot(report, args.plot)
        print(f"wrote {args.plot}")


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for (name, entry), colour in zip(
        report["sets"].items(), ("tab:green", "tab:blue", "tab:red", "tab:purple"), strict=False
    ):
        for views, marker in zip(VIEWS, ("o", "s", "^", "D"), strict=True):
            points = [e for e in entry["verified"] if e["views"] == views]
            if points:
                axes.plot([e["puzzle_steps"] for e in points], [100 * e["accuracy"] for e in points],
                          marker=marker, color=colour, alpha=0.4 + 0.15 * VIEWS.index(views),
                          label=f"{name}: {views} view{'s' * (views > 1)}, 16-64 steps")  # fmt: skip
        for key, marker in (("published_q_head", "x"), ("published_all_steps", "+")):
            axes.scatter(entry[key]["puzzle_steps"], 100 * entry[key]["accuracy"], marker=marker, s=90, color=colour)
    axes.set_xscale("log")
    axes.set_xlabel("mean puzzle-steps per puzzle (log scale)")
    axes.set_ylabel("puzzles solved (%)")
    axes.set_title(f"Verified solving, bundled {report['model']} model (x: Q-head halting, +: all 16 steps)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6, ncol=2, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


if __name__ == "__main__":
    main()

"""Held-out evaluation: exact accuracy by the published protocols (all steps; Q-head halting) and by verified
solving, overall and by difficulty tier. `trmsolve eval` reports it and `train --eval-data` ranks runs by it."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trmsolve.errors import TrmsolveError
from trmsolve.inference import crop_groups, refine
from trmsolve.kinds import get_kind
from trmsolve.model import RecursiveReasoningModel
from trmsolve.options import SolveOptions

IGNORE_LABEL = -100  # a label position neither scored nor trained on
MODES = {"all_steps": False, "halting": True}  # published protocol -> refine(halt=...)
ROUTES = ("as given", "more steps", "other view")  # how verified solving reached a right answer


def tier_names(task: str, inputs: np.ndarray, ratings: np.ndarray) -> np.ndarray | None:
    """Difficulty tier of each puzzle, as the task's data module defines them."""
    if task == "sudoku":
        from trmsolve.data.sudoku import tier

        return np.array([tier(int(r)) for r in ratings])
    if task == "maze":
        from trmsolve.data.maze import tiers

        return tiers(inputs, ratings)
    return None


def by_tier(exact: np.ndarray, tiers: np.ndarray) -> dict[str, dict[str, Any]]:
    """Puzzles and exact share in each tier."""
    return {
        str(t): {"n": int((tiers == t).sum()), "exact": round(float(exact[tiers == t].mean()), 4)}
        for t in sorted(set(tiers.tolist()))
    }


def selection_score(result: dict[str, Any]) -> list[float]:
    """How `train --eval-data` ranks evaluations: first the share right at some step (what the default,
    verified solving, can find), then exact with all steps plus exact with halting. A model can reach more
    answers while drifting off them in late steps; the sum alone preferred the earlier model."""
    return [result["all_steps"]["reached"], sum(result[mode]["exact"] for mode in MODES if mode in result)]


@torch.no_grad()
def evaluate(
    model: RecursiveReasoningModel,
    inputs: np.ndarray,
    labels: np.ndarray,
    puzzle_identifiers: np.ndarray,
    *,
    tiers: np.ndarray | None = None,
    batch_size: int = 256,
    modes: tuple[str, ...] = tuple(MODES),
) -> dict[str, Any]:
    """Exact whole-answer accuracy with `halt=False` (all steps) and `halt=True`, overall and per tier, and
    the share right at some step of the run (`reached`)."""
    model.eval()
    results: dict[str, Any] = {"n": len(inputs)}
    for mode in modes:
        exact, reached = np.zeros(len(inputs), bool), np.zeros(len(inputs), bool)
        steps = np.zeros(len(inputs), int)
        for group in crop_groups(model, inputs):  # as `solve` runs them: an answer does not depend on its batch
            for start in range(0, len(group), batch_size):
                rows = np.array(group[start : start + batch_size])
                lab = torch.from_numpy(labels[rows])
                hit = torch.zeros(len(rows), dtype=torch.bool)
                for record in refine(model, inputs[rows], puzzle_identifiers[rows], halt=MODES[mode]):
                    right = ((record.predictions.cpu() == lab) | (lab == IGNORE_LABEL)).all(-1)
                    hit |= right
                exact[rows], reached[rows], steps[rows] = right.numpy(), hit.numpy(), record.steps.cpu().numpy()
        entry: dict[str, Any] = {
            "exact": round(float(exact.mean()), 4),
            # right at some step it ran: what checking every step (verified solving, one view) can find
            "reached": round(float(reached.mean()), 4),
            "mean_steps": round(float(steps.mean()), 2),
        }
        if tiers is not None:
            entry["by_tier"] = by_tier(exact, tiers)
        results[mode] = entry
    return results


def evaluate_verified(
    model: RecursiveReasoningModel,
    task: str,
    csv_path: str | Path,
    limit: int,
    options: SolveOptions,
    *,
    tiers: np.ndarray | None = None,
) -> dict[str, Any]:
    """Exact accuracy of verified solving (the CLI's default) on the first `limit` puzzles of a held-out CSV,
    with its compute: mean steps of the deciding view and mean puzzle-steps over all views."""
    from trmsolve.solver import read_inputs, solve

    puzzles = [p for p in islice(read_inputs([csv_path], task), limit) if not isinstance(p, TrmsolveError)]
    results = list(solve(puzzles, model, kind=task, options=options))
    exact = np.array([bool(r.correct) for r in results])
    entry: dict[str, Any] = {
        "exact": round(float(exact.mean()), 4) if len(exact) else 0.0,
        "mean_steps": round(float(np.mean([r.steps for r in results])), 2) if results else 0.0,
        "mean_puzzle_steps": round(float(np.mean([r.total_steps for r in results])), 2) if results else 0.0,
        "routes": {route: sum(r.route == route and bool(r.correct) for r in results) for route in ROUTES},
        "views": options.views_for(get_kind(task)),
        "max_steps": options.steps_for(model, get_kind(task)),
    }
    if tiers is not None and len(tiers) == len(exact):
        entry["by_tier"] = by_tier(exact, tiers)
    return entry

"""Held-out evaluation: exact accuracy by the published protocols (all steps; Q-head halting) and by verified
solving, overall and by difficulty tier. `trmsolve eval` reports it and `train --eval-data` ranks runs by it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from trmsolve.errors import TrmsolveError
from trmsolve.inference import crop_groups, refine
from trmsolve.kinds import get_kind
from trmsolve.loss import IGNORE_LABEL
from trmsolve.network import RecursiveReasoningModel
from trmsolve.options import SolveOptions

if TYPE_CHECKING:
    from trmsolve.distributed import Shard

MODES = ("all_steps", "halting")  # the published protocols: run every step; stop when the Q head says so
ROUTES = ("as given", "more steps", "other view", "restart")  # how verified solving reached a right answer


def tier_names(task: str, inputs: np.ndarray, ratings: np.ndarray) -> np.ndarray | None:
    """Difficulty tier of each puzzle, as the task's data module defines them (None: the kind has none)."""
    module = get_kind(task).data_module
    return None if module is None else importlib.import_module(module).tiers(inputs, ratings)


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


def score_batch(
    model: RecursiveReasoningModel, inputs: np.ndarray, labels: np.ndarray, puzzle_identifiers: np.ndarray
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per puzzle (exact, reached, steps) [B] under each protocol of MODES, from one run of every step.

    A halting run's answer is the all-steps run's answer at the step where the Q head first says stop: early
    exit changes cost, never answers (`inference`), so one run scores both protocols for the cost of one."""
    lab = torch.from_numpy(labels)
    batch = len(inputs)
    reached, reached_halting, exact_halting = (torch.zeros(batch, dtype=torch.bool) for _ in range(3))
    halted = torch.zeros(batch, dtype=torch.bool)
    steps_halting = torch.zeros(batch, dtype=torch.long)
    for record in refine(model, inputs, puzzle_identifiers, halt=False):
        right = ((record.predictions.cpu() == lab) | (lab == IGNORE_LABEL)).all(-1)  # [B]
        reached |= right
        running = ~halted  # still refining under the halting protocol
        reached_halting |= right & running
        stop = running & model.halts(record.q_halt_logits, record.q_continue_logits).cpu()
        exact_halting[stop], steps_halting[stop] = right[stop], record.step
        halted |= stop
    exact_halting[~halted], steps_halting[~halted] = right[~halted], record.step  # stopped by the step limit
    return {
        "all_steps": (right, reached, torch.full((batch,), record.step)),
        "halting": (exact_halting, reached_halting, steps_halting),
    }


@torch.no_grad()
def evaluate(
    model: RecursiveReasoningModel,
    inputs: np.ndarray,
    labels: np.ndarray,
    puzzle_identifiers: np.ndarray,
    *,
    tiers: np.ndarray | None = None,
    batch_size: int = 256,
    modes: tuple[str, ...] = MODES,
    progress: Callable[[int, int], None] | None = None,
    shard: Shard | None = None,
) -> dict[str, Any]:
    """Exact whole-answer accuracy with `halt=False` (all steps) and `halt=True`, overall and per tier, and
    the share right at some step of the run (`reached`). `progress(done, total)` after each batch. Under
    torchrun (`shard`) the ranks share the batches and rank 0's figures cover all of them (another rank's
    cover its own batches only)."""
    model.eval()
    exact, reached, steps = ({mode: np.zeros(len(inputs), dtype) for mode in modes} for dtype in (bool, bool, int))
    chunks = [  # an answer does not depend on its batch, so a batch holds one crop group's rows
        np.array(group[start : start + batch_size])
        for group in crop_groups(model, inputs)
        for start in range(0, len(group), batch_size)
    ]
    gather = shard.gather() if shard is not None and shard.leader else None
    done = 0

    def record(rows: np.ndarray, scores: dict[str, tuple[np.ndarray, ...]]) -> None:
        nonlocal done
        for mode in modes:
            exact[mode][rows], reached[mode][rows], steps[mode][rows] = scores[mode]
        done += len(rows)
        if progress is not None:
            progress(done, len(inputs))

    mine = 0
    for number, rows in shard.claim(enumerate(chunks)) if shard is not None else enumerate(chunks):
        scores = score_batch(model, inputs[rows], labels[rows], puzzle_identifiers[rows])
        arrays = {mode: tuple(t.numpy() for t in scores[mode]) for mode in modes}
        mine += 1
        if shard is not None and not shard.leader:
            shard.publish((number, arrays))
        record(rows, arrays)
        for other, remote in gather.arrived() if gather else ():
            record(chunks[other], remote)
    for other, remote in gather.rest(len(chunks) - mine) if gather else ():
        record(chunks[other], remote)
    results: dict[str, Any] = {"n": len(inputs)}
    for mode in modes:
        results[mode] = {
            "exact": round(float(exact[mode].mean()), 4),
            # right at some step it ran: what checking every step (verified solving, one view) can find
            "reached": round(float(reached[mode].mean()), 4),
            "mean_steps": round(float(steps[mode].mean()), 2),
        }
        if tiers is not None:
            results[mode]["by_tier"] = by_tier(exact[mode], tiers)
    return results


def evaluate_verified(
    model: RecursiveReasoningModel,
    task: str,
    csv_path: str | Path,
    limit: int,
    options: SolveOptions,
    *,
    tiers: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    shard: Shard | None = None,
) -> dict[str, Any]:
    """Exact accuracy of verified solving (the CLI's default) on the first `limit` puzzles of a held-out CSV,
    with its compute: mean steps of the deciding view and mean puzzle-steps over all views. `progress(done,
    total)` as each puzzle settles. Under torchrun (`shard`) the ranks share the puzzles; rank 0's figures
    cover all of them."""
    from trmsolve.solver import read_inputs, solve

    puzzles = [p for p in islice(read_inputs([csv_path], task), limit) if not isinstance(p, TrmsolveError)]
    results = []
    for result in solve(puzzles, model, kind=task, options=options, shard=shard):
        results.append(result)
        if progress is not None:
            progress(len(results), len(puzzles))
    results.sort(key=lambda result: result.index)  # they settle in any order; the tiers go by row
    exact = np.array([bool(r.correct) for r in results])
    entry: dict[str, Any] = {
        "exact": round(float(exact.mean()), 4) if len(exact) else 0.0,
        "mean_steps": round(float(np.mean([r.steps for r in results])), 2) if results else 0.0,
        "mean_puzzle_steps": round(float(np.mean([r.total_steps for r in results])), 2) if results else 0.0,
        "routes": {route: sum(r.route == route and bool(r.correct) for r in results) for route in ROUTES},
        "views": options.views_for(model, get_kind(task)),
        "max_steps": options.steps_for(model, get_kind(task)),
    }
    if tiers is not None and len(tiers) == len(exact):
        entry["by_tier"] = by_tier(exact, tiers)
    return entry

"""The refinement loop: run ACT steps over a batch, dropping each puzzle from the batch once it halts.

Early exit changes cost, never answers: a puzzle's state depends only on its own inputs, so a halted
puzzle's final logits are exactly those that running every step would give at that step.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from trmsolve.hardware import Compiled, map_passes, pass_slices, pass_workers, rows_per_pass
from trmsolve.network import Carry, RecursiveReasoningModel, StepOutput

# Models whose steps run through torch.compile (`compile_steps`); a model forgets it when it is freed.
_COMPILED: weakref.WeakKeyDictionary[RecursiveReasoningModel, Compiled[Carry]] = weakref.WeakKeyDictionary()


def compile_steps(model: RecursiveReasoningModel) -> None:
    """Run `model`'s recursion through torch.compile from its next `run_step`: a 21x21 maze step 1.4x faster
    (benchmarks/bench_speed.py --compile), after seconds (cached on disk) to minutes of compiling."""
    _COMPILED[model] = Compiled(model.recurse)


def compiled_steps(model: RecursiveReasoningModel) -> Compiled[Carry] | None:
    """The compiled recursion `compile_steps` made for `model`, or None."""
    return _COMPILED.get(model)


def run_step(
    model: RecursiveReasoningModel,
    carry: Carry,
    x: torch.Tensor,
    positions: torch.Tensor | None = None,
    rows: int | None = None,
) -> StepOutput:
    """One ACT step of `model` (see `RecursiveReasoningModel.step`), run the way the device is fastest: at most
    `rows` puzzles a pass (`hardware.rows_per_pass`: a CPU is fastest when they fit its cache), the passes side
    by side on the cores, and through torch.compile when `compile_steps` asked for it."""
    compiled = compiled_steps(model)
    slices = pass_slices(x.shape[0], rows, 1 if compiled else pass_workers(model.device))
    if len(slices) > 1:

        def one_pass(part: slice) -> StepOutput:
            part_carry, part_x = carry.select(part), x[part]
            if compiled:  # copies: a view's offset would be one more thing to compile for
                part_carry, part_x = Carry(part_carry.z_H.clone(), part_carry.z_L.clone()), part_x.clone()
            return run_step(model, part_carry, part_x, positions)

        # Compiled code runs on one thread at a time: its passes one after another, each on every core.
        return StepOutput.cat([one_pass(s) for s in slices] if compiled else map_passes(one_pass, slices, model.device))
    if compiled is None:
        return model.step(carry, x, positions)
    new = compiled(carry, x, model.layout(positions))
    return StepOutput(Carry(new.z_H.detach(), new.z_L.detach()), *model.heads(new.z_H))


@dataclass
class StepRecord:
    """What one ACT step produced, for the whole batch of B puzzles.

    Rows of puzzles that halted earlier keep the values of their halting step, so the record of the last
    step holds every puzzle's final answer.
    """

    step: int  # 1-based ACT step
    logits: torch.Tensor  # [B, seq_len, vocab] float32
    q_halt_logits: torch.Tensor  # [B] float32
    q_continue_logits: torch.Tensor  # [B] float32
    active: torch.Tensor  # [B] bool: computed in this step
    halted: torch.Tensor  # [B] bool: stopped at this step or before
    steps: torch.Tensor  # [B] int: steps each puzzle has run so far
    z_H: torch.Tensor  # [n_active, total_len, hidden]: the answer state of the puzzles computed this step

    @property
    def q_halt_prob(self) -> torch.Tensor:
        return torch.sigmoid(self.q_halt_logits)

    @property
    def predictions(self) -> torch.Tensor:
        """Token predictions [B, seq_len]."""
        return self.logits.argmax(-1)

    @property
    def confidence(self) -> torch.Tensor:
        """Per-position probability of the predicted token [B, seq_len]."""
        return self.logits.softmax(-1).amax(-1)


def pass_tokens(model: RecursiveReasoningModel, positions: torch.Tensor | None) -> int:
    """Tokens of one puzzle in a pass: the prefix tokens and the cells at `positions` (None: every cell)."""
    return model.num_prefix_tokens + (model.config.seq_len if positions is None else len(positions))


def pass_rows(model: RecursiveReasoningModel, positions: torch.Tensor | None) -> int | None:
    """Puzzles per pass through the network for `model` on its device (see `hardware.rows_per_pass`)."""
    tokens = pass_tokens(model, positions)
    return rows_per_pass(model.device, tokens * model.config.hidden_size, model.dtype.itemsize)


def crop_groups(model: RecursiveReasoningModel, inputs: np.ndarray | torch.Tensor) -> list[list[int]]:
    """Rows of `inputs` [B, seq_len] grouped by the canvas crop each runs on alone (`ModelConfig.canvas_crop`).

    The network runs a batch on one crop, the square that holds its largest puzzle, and the prefix token sees
    every cell of it: a 13x15 maze beside a 30x30 one ran on the whole canvas and could get another answer than
    alone (the bundled model failed examples/maze/small.txt that way). Run group by group, a puzzle's answer does
    not depend on what shares its batch."""
    if model.config.canvas_crop <= 0:
        return [list(range(len(inputs)))]
    groups: dict[int, list[int]] = {}
    for i, row in enumerate(inputs):
        positions = model.canvas_positions(torch.as_tensor(row)[None])
        groups.setdefault(0 if positions is None else len(positions), []).append(i)
    return list(groups.values())


def as_tensor(values: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    return values.to(device)


@torch.inference_mode()
def refine(
    model: RecursiveReasoningModel,
    inputs: np.ndarray | torch.Tensor,
    puzzle_identifiers: np.ndarray | torch.Tensor | None = None,
    *,
    max_steps: int | None = None,
    halt: bool = True,
    halt_threshold: float | None = None,
) -> Iterator[StepRecord]:
    """Refine answers for `inputs` [B, seq_len] tokens step by step, yielding a `StepRecord` per step.

    With `halt=True` a puzzle stops when the Q head says so (see `RecursiveReasoningModel.halts`; a
    `halt_threshold` probability overrides the trained rule) and is dropped from the batch, so later
    steps cost less. With `halt=False` every puzzle runs `max_steps` steps, as the published evaluation
    does. `max_steps` defaults to the checkpoint's default (16 for the published models).
    """
    device = model.device
    inputs = as_tensor(inputs, device).long()
    batch = inputs.shape[0]
    if puzzle_identifiers is None:
        puzzle_identifiers = torch.zeros(batch, dtype=torch.long, device=device)
    puzzle_identifiers = as_tensor(puzzle_identifiers, device).long()
    max_steps = max_steps or model.info.default_steps or model.config.halt_max_steps
    if batch == 0:
        return

    positions = model.canvas_positions(inputs)  # a canvas crop: the cells the network runs on, or None for all
    x = model.embed(inputs, puzzle_identifiers, positions)
    carry = model.initial_carry(batch, positions)
    rows = pass_rows(model, positions)
    running = torch.arange(batch, device=device)  # batch rows still being refined
    logits = torch.zeros(batch, model.config.seq_len, model.config.vocab_size, device=device)
    if positions is not None:  # outside the crop the answer is the input (padding), with certainty
        logits.scatter_(-1, inputs.unsqueeze(-1), 30.0)
    q_halt = torch.zeros(batch, device=device)
    q_continue = torch.zeros(batch, device=device)
    steps = torch.zeros(batch, dtype=torch.long, device=device)
    halted = torch.zeros(batch, dtype=torch.bool, device=device)

    for step in range(1, max_steps + 1):
        out = run_step(model, carry, x, positions, rows)
        if positions is None:
            logits[running] = out.logits
        else:
            logits[running[:, None], positions] = out.logits
        q_halt[running] = out.q_halt_logits
        q_continue[running] = out.q_continue_logits
        steps[running] += 1
        stop = torch.full_like(running, step >= max_steps, dtype=torch.bool)
        if halt:
            stop |= model.halts(out.q_halt_logits, out.q_continue_logits, halt_threshold)
        halted[running] = stop
        active = torch.zeros(batch, dtype=torch.bool, device=device)
        active[running] = True
        yield StepRecord(
            step=step,
            logits=logits.clone(),
            q_halt_logits=q_halt.clone(),
            q_continue_logits=q_continue.clone(),
            active=active,
            halted=halted.clone(),
            steps=steps.clone(),
            z_H=out.carry.z_H,
        )
        if bool(stop.all()):
            return
        keep = ~stop
        if not bool(keep.all()):
            running, x = running[keep], x[keep]
            carry = out.carry.select(keep)
        else:
            carry = out.carry


def final(records: Iterator[StepRecord]) -> StepRecord:
    """Run `refine` to the end and return its last record (every puzzle's final answer)."""
    last = None
    for record in records:
        last = record
    if last is None:
        raise ValueError("refine produced no steps (empty batch)")
    return last

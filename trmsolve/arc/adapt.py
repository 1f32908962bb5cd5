"""Adaptation: puzzle embeddings for tasks a model never saw, learned from their demonstration pairs with the
network frozen, by the ACT loss `trmsolve train` uses."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from trmsolve.arc.builder import Pair, augment_pairs, random_offset
from trmsolve.arc.views import task_views
from trmsolve.errors import TrmsolveError
from trmsolve.kinds.arc_grids import BLANK_IDENTIFIER, grid_to_tokens, parse_identifier

if TYPE_CHECKING:
    from trmsolve.network import RecursiveReasoningModel


# ------------------------------------------------------------------------------------------- adaptation


@dataclass
class AdaptResult:
    """What `adapt` did for one task."""

    task_id: str
    versions: int  # new embedding rows, one per augmented version of the task
    steps: int  # optimiser steps (one ACT step of every view's demonstrations each)
    seconds: float  # all of it: choosing the start and the steps
    start_seconds: float  # choosing the start (`nearest_rows`)
    loss: float  # mean loss over the last carry cycle
    demo_exact: float  # share of augmented demonstrations reproduced exactly at the last step
    started_from: list[str]  # per view: the known identifier its embedding started from, or "zeros"

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def adapt(
    model: RecursiveReasoningModel,
    task_id: str,
    pairs: Sequence[Pair],
    *,
    steps: int = 100,
    versions: int = 4,
    lr: float = 1e-2,
    weight_decay: float = 0.1,
    seed: int = 0,
    bf16: bool | None = None,
    start: str = "nearest",
    progress: Callable[[int, int, float], None] | None = None,
    views: int | None = None,
) -> AdaptResult:
    """Learn puzzle embeddings for a task the model never saw from its demonstration `pairs`, network frozen.

    The task gets `versions` versions (itself and random augmentations chosen as the builder does) and one new
    embedding row each, appended to the model's table and map, so `predict` then votes over them like over
    a trained task. Training follows the published recipe with only those rows free: deep supervision
    over ACT steps carrying the state (reset every halt_max_steps), stablemax loss + 0.5 x halting BCE,
    sign-SGD, bf16 autocast where the device runs it natively (`bf16=None`), as `trmsolve train` trains;
    demonstrations but one per view sit at random
    canvas offsets, redrawn every cycle. A step costs one ACT step over versions x demonstrations, so the time
    grows with both. `progress(step, steps, loss)` is called after every step, and while the start is being
    chosen with step 0 and `loss` the share of candidates tried (0..1). Mutates `model`.

    `start="nearest"` starts each view's row from the known embedding that best predicts that view's
    demonstrations (`nearest_rows`): a rule the network learned for another task, or for another
    augmented version of one, is then one short step away instead of 100 sign-SGD steps from zero.
    `start="zeros"` starts from zeros. `views` is the old name of `versions` (deprecated).
    """
    if views is not None:
        warnings.warn("adapt(views=N) is now adapt(versions=N)", DeprecationWarning, stacklevel=2)
        versions = views
    import torch

    from trmsolve.loss import IGNORE_LABEL, act_loss
    from trmsolve.network import Carry
    from trmsolve.network.layers import PuzzleEmbedding
    from trmsolve.optim import SignSGD

    config = model.config
    if config.puzzle_emb_ndim <= 0:
        raise TrmsolveError("this model has no puzzle embeddings to adapt")
    if not pairs:
        raise TrmsolveError(f"task {task_id}: no demonstration pairs to adapt on")
    names = list(model.identifiers or [BLANK_IDENTIFIER] * config.num_puzzle_identifiers)
    if task_id in task_views(names):
        raise TrmsolveError(f"task {task_id}: the model already knows it")
    if start not in ("nearest", "zeros"):
        raise TrmsolveError(f"unknown start {start!r} (known: nearest, zeros)")
    augmented = augment_pairs(task_id, pairs, versions - 1, seed)
    examples = [(view, *(version.apply(g) for g in pair)) for view, version in enumerate(augmented) for pair in pairs]
    ids = torch.tensor([view for view, _, _ in examples], device=model.device)
    rng = np.random.RandomState(seed)
    started = time.perf_counter()

    table = model.puzzle_emb
    rows = PuzzleEmbedding(len(augmented), config.puzzle_emb_ndim).to(model.device, table.weights.dtype)  # zeros
    started_from = ["zeros"] * len(augmented)
    bf16 = use_bf16(model, bf16)
    if start == "nearest" and any(name != BLANK_IDENTIFIER for name in names):
        demonstrations = [[(i, o) for v, i, o in examples if v == view] for view in range(len(augmented))]
        tried = None if progress is None else lambda share: progress(0, steps, share)
        nearest = nearest_rows(model, demonstrations, bf16=bf16, progress=tried)
        rows.weights.data.copy_(table.weights.detach()[nearest])
        started_from = [names[number] for number in nearest]
    frozen = {name: p.requires_grad for name, p in model.named_parameters()}
    for p in model.parameters():
        p.requires_grad_(False)
    model.puzzle_emb = rows  # the new rows alone: no gradient buffer the size of the whole table
    optimizer = SignSGD(rows.weights, lr, weight_decay)
    autocast = torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16)
    start_seconds = time.perf_counter() - started
    losses: list[float] = []
    exact = torch.zeros(len(examples), dtype=torch.bool)
    try:
        for step in range(steps):
            if step % config.halt_max_steps == 0:
                inputs, labels = _canvas_batch(examples, len(augmented), rng, model.device)
                labels[labels == 0] = IGNORE_LABEL  # PAD is not predicted
                carry = model.initial_carry(len(examples))
                losses = []
            with autocast:
                out = model(carry, inputs, ids)
            terms = act_loss(out.logits, out.q_halt_logits, labels)
            exact = terms.exact.cpu()
            loss = terms.total(len(examples))
            loss.backward()
            optimizer.step(1.0)
            carry = Carry(out.carry.z_H.detach(), out.carry.z_L.detach())
            losses.append(loss.item())
            if progress is not None:
                progress(step + 1, steps, losses[-1])
    finally:
        model.puzzle_emb = table
        for name, p in model.named_parameters():
            p.requires_grad_(frozen.get(name, False))
    table.weights = torch.nn.Parameter(
        torch.cat([table.weights.detach(), rows.weights.detach().to(table.weights.dtype)]),
        requires_grad=frozen["puzzle_emb.weights"],
    )
    config.num_puzzle_identifiers = table.weights.shape[0]
    model.identifiers = names + [version.name for version in augmented]
    return AdaptResult(
        task_id=task_id,
        versions=len(augmented),
        steps=steps,
        seconds=time.perf_counter() - started,
        start_seconds=start_seconds,
        loss=float(np.mean(losses)) if losses else float("nan"),
        demo_exact=float(exact.float().mean()),
        started_from=started_from,
    )


MAX_NEAREST_CANDIDATES = 512  # known embeddings tried as an adapted row's start; bounds the time before step 1


def use_bf16(model: RecursiveReasoningModel, bf16: bool | None) -> bool:
    """Whether to autocast to bfloat16: as asked, or (None) where the model's device runs it natively."""
    from trmsolve.hardware import native_bf16

    if bf16 is None:
        bf16 = native_bf16(model.device)
    return bf16 and model.device.type in ("cpu", "cuda")


def nearest_rows(
    model: RecursiveReasoningModel,
    demonstrations: Sequence[Sequence[Pair]],
    *,
    pairs: int = 2,
    batch_size: int = 64,
    bf16: bool | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[int]:
    """For each list of demonstration pairs, the known puzzle identifier (not the blank one) whose
    embedding predicts their outputs best after one step: least stablemax loss per token over the first
    `pairs` pairs, at the canvas origin. One forward step per (identifier, pair), batched. A map of more
    than MAX_NEAREST_CANDIDATES identifiers offers each task's plain version only, so the time this takes
    stays bounded (a published map has ~1,000 augmented versions of every task). `progress(share)` after each
    batch: the share of the work done."""
    import torch

    from trmsolve.loss import IGNORE_LABEL, token_losses
    from trmsolve.network import Carry

    names = model.identifiers or [BLANK_IDENTIFIER] * model.config.num_puzzle_identifiers
    known = [number for number, name in enumerate(names) if name != BLANK_IDENTIFIER]
    if len(known) > MAX_NEAREST_CANDIDATES:  # a published map: ~1,000 versions a task; each task's plain one
        known = [n for n in known if parse_identifier(names[n]).task == names[n]][:MAX_NEAREST_CANDIDATES]
    known = torch.tensor(known)
    bf16 = use_bf16(model, bf16)
    best = []
    for done, demos in enumerate(demonstrations):
        demos = list(demos)[:pairs]
        inputs = torch.from_numpy(np.stack([grid_to_tokens(i) for i, _ in demos])).long().to(model.device)
        labels = torch.from_numpy(np.stack([grid_to_tokens(o) for _, o in demos])).long().to(model.device)
        labels[labels == 0] = IGNORE_LABEL
        per_token = 1.0 / (labels != IGNORE_LABEL).sum(-1)
        losses = []
        for chunk in known.split(max(1, batch_size // len(demos))):
            ids = chunk.repeat_interleave(len(demos)).to(model.device)
            carry: Carry = model.initial_carry(len(ids))
            with torch.no_grad(), torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(carry, inputs.repeat(len(chunk), 1), ids).logits
            loss = token_losses(logits.float(), labels.repeat(len(chunk), 1), "stablemax").sum(-1)
            losses.append((loss * per_token.repeat(len(chunk))).view(len(chunk), len(demos)).mean(-1))
            if progress is not None:
                progress((done + sum(len(tried) for tried in losses) / len(known)) / len(demonstrations))
        best.append(int(known[int(torch.cat(losses).argmin())]))
    return best


def _canvas_batch(
    examples: Sequence[tuple[int, np.ndarray, np.ndarray]], views: int, rng: np.random.RandomState, device: Any
) -> tuple[Any, Any]:
    """Input and label tokens of (view, input, output) examples; per view one stays at the origin and the
    others move to random offsets, as in the builder's training split."""
    import torch

    kept = {view: rng.randint(0, sum(v == view for v, _, _ in examples)) for view in range(views)}
    seen = dict.fromkeys(range(views), 0)
    inputs, labels = [], []
    for view, inp, out in examples:
        offset = (0, 0) if seen[view] == kept[view] else random_offset(inp, out, rng)
        seen[view] += 1
        inputs.append(grid_to_tokens(inp, offset))
        labels.append(grid_to_tokens(out, offset))
    return (
        torch.from_numpy(np.stack(inputs)).long().to(device),
        torch.from_numpy(np.stack(labels)).long().to(device),
    )

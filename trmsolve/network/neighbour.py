"""Square-canvas models (the bundled maze model): neighbour attention and the canvas crop.

With `ModelConfig.neighbour_attention` a cell attends to itself and its four neighbours only, so one block moves
information one cell, the same rule on any size of maze; with `canvas_crop` the network runs on the top-left
square that holds the batch's puzzles rather than the whole 30x30 canvas. The published models use neither.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trmsolve.config import ModelConfig

# From this many tokens on, neighbour attention runs as a five-cell stencil rather than masked dense attention.
# In float32 dense attention's fused kernel wins on small grids and the stencil on large ones; where they cross
# depends on the CPU: 9x9-13x13 on an AMD EPYC (Zen 4), about 21x21 on an Intel Xeon. Between 17x17 (290 tokens)
# and 21x21 (442): the 21x21 crop of the bundled maze model runs 1.25x faster as the stencil on the EPYC at one
# and two threads, batch 1 and 64. In bfloat16 on a CPU the masked kernel is slow at every size and the stencil
# always runs (benchmarks/bench_neighbour.py, benchmarks/results/neighbour_attention*.json).
STENCIL_MIN_TOKENS = 300
STENCIL_MIN_TOKENS_BF16_CPU = 0


def neighbour_mask(positions: torch.Tensor, side: int, prefix: int) -> torch.Tensor:
    """[prefix + S, prefix + S] bool for canvas cells at `positions` [S] of a side x side canvas: a cell attends
    to itself and its four neighbours; the prefix tokens and the cells all see each other."""
    row, col = positions // side, positions % side
    near = (row[:, None] - row[None, :]).abs() + (col[:, None] - col[None, :]).abs() <= 1  # [S, S]
    return F.pad(near, (prefix, 0, prefix, 0), value=True)


# The five keys of a cell in the neighbour stencil, as (row, column) offsets into the grid padded by one cell:
# self, up, down, left, right.
STENCIL_SHIFTS = ((1, 1), (0, 1), (2, 1), (1, 0), (1, 2))


def off_grid_keys(rows: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
    """[5, 1, rows, width, 1] bool: which of each cell's five stencil keys (STENCIL_SHIFTS) lie off the grid."""
    outside = F.pad(torch.zeros(rows, width, device=device), (1, 1, 1, 1), value=1).bool()
    return torch.stack([outside[r : r + rows, c : c + width] for r, c in STENCIL_SHIFTS])[:, None, :, :, None]


def neighbour_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    off_grid: torch.Tensor,
    prefix: int,
    plain: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Attention in which a cell of the grid sees the prefix tokens, itself and its four neighbours, and a prefix
    token sees everything. q, k, v [B, T, heads, d] with T = prefix + rows x width cells (row-major); `off_grid`
    is `off_grid_keys(rows, width)`; `plain`: q and k before rotary positions, for every score that involves a
    prefix token (ModelConfig.position_free_prefix). Returns the shape of q.

    The softmax over at most prefix + 5 keys equals attention under the [T, T] mask of those pairs, in time
    linear in T: on the 901 tokens of a 30x30 maze, dense scores cost more than the stencil's extra passes.
    The keys sit on the leading axis: on a CPU a softmax over a short last axis ran 15-20x slower than over a
    leading one (and took 5% of a maze step), and fused vecdot / addcmul_ halve the passes over q and v."""
    batch, _, heads, dim = q.shape
    rows, width = off_grid.shape[2:4]
    grid = (batch, rows, width, heads, dim)
    qc = q[:, prefix:].reshape(grid)
    pad = (0, 0, 0, 0, 1, 1, 1, 1)  # one cell of zeros around the grid
    kg, vg = F.pad(k[:, prefix:].reshape(grid), pad), F.pad(v[:, prefix:].reshape(grid), pad)
    near_k = [kg[:, r : r + rows, c : c + width] for r, c in STENCIL_SHIFTS]  # 5 x [B, rows, width, heads, d]
    near_v = [vg[:, r : r + rows, c : c + width] for r, c in STENCIL_SHIFTS]
    scores = torch.stack([torch.linalg.vecdot(qc, key) for key in near_k])  # [5, B, rows, width, heads]
    scores = scores.masked_fill_(off_grid, float("-inf"))
    if prefix:
        q, k = plain or (q, k)
        qp = q[:, prefix:].reshape(grid) if plain else qc
        prefix_scores = torch.einsum("brwhd,bphd->pbrwh", qp, k[:, :prefix])  # [prefix, B, rows, width, heads]
        scores = torch.cat((prefix_scores, scores))
    weights = scores.mul_(dim**-0.5).softmax(0).unsqueeze(-1)  # [prefix + 5, B, rows, width, heads, 1]
    cells = weights[prefix] * near_v[0]
    for j in range(1, len(near_v)):
        cells.addcmul_(weights[prefix + j], near_v[j])
    if prefix:
        cells += torch.einsum("pbrwh,bphd->brwhd", weights[:prefix, ..., 0], v[:, :prefix])
        first = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q[:, :prefix], k, v))).transpose(1, 2)
        return torch.cat((first, cells.reshape(batch, rows * width, heads, dim)), dim=1)
    return cells.reshape(batch, rows * width, heads, dim)


def canvas_positions(config: ModelConfig, inputs: torch.Tensor) -> torch.Tensor | None:
    """Positions [S*S] of the canvas cells the network runs on for this batch of inputs [B, seq_len]
    (see ModelConfig.canvas_crop), or None when it runs on the whole sequence."""
    side_max = config.canvas_side
    if config.canvas_crop <= 0 or not side_max:
        return None
    used = (inputs != config.canvas_pad).view(-1, side_max, side_max).any(0)  # [side_max, side_max]
    extent = torch.cat((used.any(1).nonzero(), used.any(0).nonzero())).view(-1)  # rows and columns in use
    side = max(config.canvas_crop, int(extent.max()) + 1 if len(extent) else 0)
    if side >= side_max:
        return None
    cells = torch.arange(side, device=inputs.device)
    return (cells[:, None] * side_max + cells[None, :]).reshape(-1)

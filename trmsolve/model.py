"""TRM and HRM: the published Tiny Recursive Model and Hierarchical Reasoning Model, in one file.

Both loop a small post-norm transformer over a latent state z_L and a current answer z_H. One call of
`step()` is one ACT step ("refinement step"):

    TRM:  H_cycles x [ L_cycles x (z_L = net(z_L, z_H + x)) ; z_H = net(z_H, z_L) ]    one network
    HRM:  H_cycles x [ L_cycles x (z_L = L_net(z_L, z_H + x)) ; z_H = H_net(z_H, z_L) ]  two networks

then logits = lm_head(z_H) and (q_halt, q_continue) = q_head(z_H[:, 0]). Parameter names equal the
published state dicts after their `_orig_mod.model.inner.` prefix, so published checkpoints load as they
are. Every operation follows the published order, so outputs agree to float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trmsolve.config import CheckpointInfo, ModelConfig
from trmsolve.hardware import Compiled, autocast_dtype, map_passes, pass_slices, pass_workers


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Weightless RMSNorm over the last axis, computed in float32 whatever the input dtype."""
    x32 = x.float()
    x32 = x32 * torch.rsqrt(x32.square().mean(-1, keepdim=True) + eps)
    return x32.to(x.dtype)


def trunc_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    """Truncated normal at +-2 std (the published init); only matters for training from scratch."""
    return nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std) if std > 0 else tensor.zero_()


def swiglu_width(width: int, expansion: float) -> int:
    """Inner width of a SwiGLU: 2/3 of the expansion, rounded up to a multiple of 256."""
    inner = round(expansion * width * 2 / 3)
    return -(inner // -256) * 256


class Embedding(nn.Module):
    """A lookup table named `embedding_weight`, as in the published checkpoints."""

    def __init__(self, num_embeddings: int, dim: int, init_std: float) -> None:
        super().__init__()
        self.embedding_weight = nn.Parameter(trunc_normal_(torch.empty(num_embeddings, dim), init_std))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.embedding_weight)


class PuzzleEmbedding(nn.Module):
    """One learned vector per puzzle identifier (zero-initialised), named `weights` as published."""

    def __init__(self, num_identifiers: int, dim: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_identifiers, dim))

    def forward(self, puzzle_identifiers: torch.Tensor) -> torch.Tensor:
        return F.embedding(puzzle_identifiers, self.weights)


class Linear(nn.Linear):
    """nn.Linear with the published truncated LeCun-normal init."""

    def reset_parameters(self) -> None:
        trunc_normal_(self.weight, 1.0 / math.sqrt(self.in_features))
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class Rotary(nn.Module):
    """Rotary position tables. Kept in float32 and outside the state dict, so `.to(bfloat16)` skips them."""

    def __init__(self, head_dim: int, num_positions: int, theta: float) -> None:
        super().__init__()
        self.head_dim, self.num_positions, self.theta = head_dim, num_positions, theta
        self._tables: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, device: torch.device, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [S, head_dim] for positions 0..S-1, or for the given `positions` [S]."""
        if device not in self._tables:
            # Ordinary tensors even when first made under inference_mode: cached inference tensors would make
            # any later training of this model (e.g. adapting a puzzle embedding after solving) fail.
            with torch.inference_mode(False):
                self._tables[device] = self._make_tables(device)
        cos, sin = self._tables[device]
        return (cos, sin) if positions is None else (cos[positions], sin[positions])

    def _make_tables(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        freqs = torch.outer(torch.arange(self.num_positions, dtype=torch.float32), inv_freq)
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(device), angles.sin().to(device)


@dataclass
class Layout:
    """Where the tokens of a pass sit: rotary tables (cos, sin) and, for neighbour attention, either which
    tokens each may attend to ([T, T] bool, True = may) or, on large grids, which of each cell's five stencil
    keys lie off the grid of cells after the `prefix` tokens (`off_grid_keys`). Built once per ACT step, read by
    every block."""

    rotary: tuple[torch.Tensor, torch.Tensor] | None = None
    attn_mask: torch.Tensor | None = None
    stencil: torch.Tensor | None = None
    prefix: int = 0
    position_free_prefix: bool = False  # the stencil scores prefix tokens against cells without rotary positions


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


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x [B, S, heads, head_dim] by position, in float32."""
    x32 = x.to(cos.dtype)
    return (x32 * cos.unsqueeze(-2) + rotate_half(x32) * sin.unsqueeze(-2)).to(x.dtype)


class SwiGLU(nn.Module):
    def __init__(self, width: int, expansion: float) -> None:
        super().__init__()
        inner = swiglu_width(width, expansion)
        self.gate_up_proj = Linear(width, 2 * inner, bias=False)
        self.down_proj = Linear(inner, width, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)


class Attention(nn.Module):
    """Non-causal multi-head self-attention with one fused qkv projection and optional rotary positions."""

    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.qkv_proj = Linear(hidden_size, 3 * hidden_size, bias=False)
        self.o_proj = Linear(hidden_size, hidden_size, bias=False)

    def forward(self, h: torch.Tensor, layout: Layout) -> torch.Tensor:
        batch, seq, hidden = h.shape
        qkv = self.qkv_proj(h).view(batch, seq, 3 * self.num_heads, self.head_dim)
        q, k, v = qkv.split(self.num_heads, dim=2)
        plain = (q, k) if layout.position_free_prefix else None
        if layout.rotary is not None:
            q, k = apply_rotary(q, *layout.rotary), apply_rotary(k, *layout.rotary)
        if layout.stencil is not None:
            out = neighbour_attention(q, k, v, layout.stencil, layout.prefix, plain)
        else:
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=layout.attn_mask).transpose(1, 2)
        return self.o_proj(out.reshape(batch, seq, hidden))


class Block(nn.Module):
    """Post-norm block: mix positions (attention, or a SwiGLU across the sequence), then a SwiGLU."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.eps = config.rms_norm_eps
        self.token_mixing = config.mlp_t
        if config.mlp_t:
            self.mlp_t = SwiGLU(config.total_len, config.expansion)
        else:
            self.self_attn = Attention(config.hidden_size, config.num_heads)
        self.mlp = SwiGLU(config.hidden_size, config.expansion)

    def forward(self, h: torch.Tensor, layout: Layout) -> torch.Tensor:
        if self.token_mixing:
            # The published mlp_t normalises over the sequence axis too, before transposing back.
            h_t = h.transpose(1, 2)
            h = rms_norm(h_t + self.mlp_t(h_t), self.eps).transpose(1, 2)
        else:
            h = rms_norm(h + self.self_attn(h, layout), self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


class ReasoningModule(nn.Module):
    """A stack of blocks applied after adding the injected state: net(h, injection)."""

    def __init__(self, config: ModelConfig, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Block(config) for _ in range(num_layers))

    def forward(self, h: torch.Tensor, injection: torch.Tensor, layout: Layout) -> torch.Tensor:
        h = h + injection
        for layer in self.layers:
            h = layer(h, layout)
        return h


@dataclass
class Carry:
    """The recurrent state of a batch of puzzles: answer z_H and latent z_L, [B, total_len, hidden]."""

    z_H: torch.Tensor
    z_L: torch.Tensor

    def select(self, index: torch.Tensor | slice) -> Carry:
        return Carry(self.z_H[index], self.z_L[index])

    @staticmethod
    def cat(parts: list[Carry]) -> Carry:
        """The carries of consecutive rows, as one batch."""
        return Carry(torch.cat([p.z_H for p in parts]), torch.cat([p.z_L for p in parts]))


@dataclass
class StepOutput:
    carry: Carry
    logits: torch.Tensor  # [B, seq_len, vocab], float32
    q_halt_logits: torch.Tensor  # [B], float32
    q_continue_logits: torch.Tensor  # [B], float32

    @staticmethod
    def cat(parts: list[StepOutput]) -> StepOutput:
        """The outputs of consecutive slices of a batch, as one."""
        return StepOutput(
            Carry.cat([p.carry for p in parts]),
            torch.cat([p.logits for p in parts]),
            torch.cat([p.q_halt_logits for p in parts]),
            torch.cat([p.q_continue_logits for p in parts]),
        )


class RecursiveReasoningModel(nn.Module):
    """TRM (config.arch == "trm") or HRM ("hrm"). Carries its `config` and checkpoint `info`."""

    def __init__(self, config: ModelConfig, info: CheckpointInfo | None = None) -> None:
        super().__init__()
        if config.canvas_crop > 0 and config.mlp_t:
            raise ValueError("canvas_crop needs attention: mlp_t mixes a fixed number of positions")
        self.config = config
        self.info = info or CheckpointInfo()
        self.identifiers: list[str] | None = None  # ARC: identifier names, index = puzzle identifier
        hidden = config.hidden_size
        self.embed_scale = math.sqrt(hidden)
        self.num_prefix_tokens = config.num_prefix_tokens

        self.embed_tokens = Embedding(config.vocab_size, hidden, init_std=1.0 / self.embed_scale)
        self.lm_head = Linear(hidden, config.vocab_size, bias=False)
        self.q_head = Linear(hidden, 2, bias=True)
        if config.puzzle_emb_ndim > 0:
            self.puzzle_emb = PuzzleEmbedding(config.num_puzzle_identifiers, config.puzzle_emb_ndim)
        self.rotary = None
        if config.pos_encodings == "rope":
            self.rotary = Rotary(hidden // config.num_heads, config.total_len, config.rope_theta)
        elif config.pos_encodings == "learned":
            self.embed_pos = Embedding(config.total_len, hidden, init_std=1.0 / self.embed_scale)
        elif config.pos_encodings != "none":
            raise ValueError(f"unknown pos_encodings {config.pos_encodings!r}")

        if config.arch == "hrm":
            self.H_level = ReasoningModule(config, config.H_layers)
        elif config.arch != "trm":
            raise ValueError(f"unknown arch {config.arch!r}")
        self.L_level = ReasoningModule(config, config.L_layers)

        self.register_buffer("H_init", trunc_normal_(torch.empty(hidden), std=1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(hidden), std=1.0))
        with torch.no_grad():  # the Q head starts out saying "continue"
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        self.compiled_recursion: Compiled[Carry] | None = None  # see compile_recursion

    @property
    def device(self) -> torch.device:
        return self.H_init.device

    @property
    def dtype(self) -> torch.dtype:
        return self.H_init.dtype

    def canvas_positions(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Positions [S*S] of the canvas cells the network runs on for this batch of inputs [B, seq_len]
        (see ModelConfig.canvas_crop), or None when it runs on the whole sequence."""
        side_max = self.config.canvas_side
        if self.config.canvas_crop <= 0 or not side_max:
            return None
        used = (inputs != self.config.canvas_pad).view(-1, side_max, side_max).any(0)  # [side_max, side_max]
        extent = torch.cat((used.any(1).nonzero(), used.any(0).nonzero())).view(-1)  # rows and columns in use
        side = max(self.config.canvas_crop, int(extent.max()) + 1 if len(extent) else 0)
        if side >= side_max:
            return None
        cells = torch.arange(side, device=inputs.device)
        return (cells[:, None] * side_max + cells[None, :]).reshape(-1)

    def embed(
        self,
        inputs: torch.Tensor,
        puzzle_identifiers: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Input embedding x [B, prefix + S, hidden]: puzzle-embedding tokens, then the puzzle's tokens: all of
        them [S = seq_len], or those at `positions` [S] (`inputs` may hold just those already)."""
        if positions is not None and inputs.shape[-1] != len(positions):
            inputs = inputs[:, positions]
        x = self.embed_tokens(inputs.to(torch.int32))
        if self.config.puzzle_emb_ndim > 0:
            if puzzle_identifiers is None:
                puzzle_identifiers = torch.zeros(inputs.shape[0], dtype=torch.int32, device=inputs.device)
            puzzle = self.puzzle_emb(puzzle_identifiers.to(torch.int32))
            pad = self.num_prefix_tokens * self.config.hidden_size - puzzle.shape[-1]
            puzzle = F.pad(puzzle, (0, pad)).view(-1, self.num_prefix_tokens, self.config.hidden_size)
            x = torch.cat((puzzle, x), dim=-2)
        if self.config.pos_encodings == "learned":
            pos = self.embed_pos.embedding_weight
            x = 0.707106781 * (x + (pos if positions is None else pos[self._with_prefix(positions)]))
        return self.embed_scale * x

    def initial_carry(self, batch_size: int, positions: torch.Tensor | None = None) -> Carry:
        """The state a new puzzle starts from: H_init / L_init broadcast over every position."""
        length = self.config.total_len if positions is None else self.num_prefix_tokens + len(positions)
        shape = (batch_size, length, self.config.hidden_size)
        return Carry(self.H_init.expand(shape).clone(), self.L_init.expand(shape).clone())

    def _with_prefix(self, positions: torch.Tensor) -> torch.Tensor:
        """Sequence positions of the prefix tokens followed by the puzzle cells at `positions`."""
        prefix = torch.arange(self.num_prefix_tokens, device=positions.device)
        return torch.cat((prefix, positions + self.num_prefix_tokens))

    def layout(self, positions: torch.Tensor | None) -> Layout:
        """The rotary tables and attention mask of a pass over the cells at `positions` (None: all)."""
        rotary = None
        if self.rotary is not None:
            rotary = self.rotary(self.device, None if positions is None else self._with_prefix(positions))
        if not self.config.neighbour_attention:
            return Layout(rotary)
        cells = torch.arange(self.config.seq_len, device=self.device) if positions is None else positions
        bf16_cpu = self.device.type == "cpu" and torch.bfloat16 in (self.dtype, autocast_dtype(self.device))
        threshold = STENCIL_MIN_TOKENS_BF16_CPU if bf16_cpu else STENCIL_MIN_TOKENS
        free = self.config.position_free_prefix  # only the stencil scores the prefix without positions
        if free or self.num_prefix_tokens + len(cells) >= threshold:  # a crop is the canvas's top-left square
            width = self.config.canvas_side if positions is None else math.isqrt(len(positions))
            stencil = off_grid_keys(len(cells) // width, width, self.device)
            return Layout(rotary, stencil=stencil, prefix=self.num_prefix_tokens, position_free_prefix=free)
        return Layout(rotary, attn_mask=neighbour_mask(cells, self.config.canvas_side, self.num_prefix_tokens))

    def reason(self, carry: Carry, x: torch.Tensor, positions: torch.Tensor | None = None) -> Carry:
        """The recursion of one ACT step over the cells at `positions` (None: all)."""
        return self.recurse(carry, x, self.layout(positions))

    def recurse(self, carry: Carry, x: torch.Tensor, layout: Layout) -> Carry:
        """The recursion of one ACT step. Only the final cycle carries gradients, as published."""
        answer_net = self.H_level if self.config.arch == "hrm" else self.L_level
        z_H, z_L = carry.z_H, carry.z_L
        cycles = self.config.H_cycles
        if self.config.arch == "trm":
            with torch.no_grad():
                for _ in range(cycles - 1):
                    for _ in range(self.config.L_cycles):
                        z_L = self.L_level(z_L, z_H + x, layout)
                    z_H = self.L_level(z_H, z_L, layout)
            for _ in range(self.config.L_cycles):
                z_L = self.L_level(z_L, z_H + x, layout)
            z_H = self.L_level(z_H, z_L, layout)
        else:
            with torch.no_grad():
                for h_step in range(cycles):
                    last_h = h_step == cycles - 1
                    for l_step in range(self.config.L_cycles):
                        if not (last_h and l_step == self.config.L_cycles - 1):
                            z_L = self.L_level(z_L, z_H + x, layout)
                    if not last_h:
                        z_H = answer_net(z_H, z_L, layout)
            z_L = self.L_level(z_L, z_H + x, layout)
            z_H = answer_net(z_H, z_L, layout)
        return Carry(z_H, z_L)

    def heads(self, z_H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token logits [B, seq_len, vocab] and (q_halt, q_continue) [B], all float32."""
        logits = self.lm_head(z_H)[:, self.num_prefix_tokens :].float()
        # Two outputs: a per-row reduction rather than a GEMM, whose kernel (and rounding) would
        # depend on how many puzzles are still in the batch.
        q = ((z_H[:, 0, None, :] * self.q_head.weight).sum(-1) + self.q_head.bias).float()
        return logits, q[..., 0], q[..., 1]

    def step(
        self, carry: Carry, x: torch.Tensor, positions: torch.Tensor | None = None, rows: int | None = None
    ) -> StepOutput:
        """One ACT step from `carry` given the input embedding `x` (inference; the carry is detached).
        With `positions` (a canvas crop), the logits cover just those cells. `rows` caps the puzzles run
        through the network at once (`hardware.rows_per_pass`: a CPU is fastest when they fit its cache)."""
        compiled = self.compiled_recursion
        slices = pass_slices(x.shape[0], rows, 1 if compiled else pass_workers(self.device))
        if len(slices) > 1:

            def one_pass(part: slice) -> StepOutput:
                part_carry = carry.select(part)
                if compiled:  # copies: a view's offset would be one more thing to compile for
                    part_carry = Carry(part_carry.z_H.clone(), part_carry.z_L.clone())
                    return self.step(part_carry, x[part].clone(), positions)
                return self.step(part_carry, x[part], positions)

            # Compiled code runs on one thread at a time: its passes one after another, each on every core.
            return StepOutput.cat(
                [one_pass(s) for s in slices] if compiled else map_passes(one_pass, slices, self.device)
            )
        new = (compiled or self.recurse)(carry, x, self.layout(positions))
        return StepOutput(Carry(new.z_H.detach(), new.z_L.detach()), *self.heads(new.z_H))

    def compile_recursion(self) -> None:
        """Run `step`'s recursion through torch.compile from its next call: a 21x21 maze step 1.4x faster
        (benchmarks/bench_speed.py --compile), after seconds (cached on disk) to minutes of compiling."""
        self.compiled_recursion = Compiled(self.recurse)

    def forward(
        self,
        carry: Carry,
        inputs: torch.Tensor,
        puzzle_identifiers: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> StepOutput:
        """One ACT step from tokens, keeping the graph of its last cycle (training, DDP)."""
        new = self.reason(carry, self.embed(inputs, puzzle_identifiers, positions), positions)
        return StepOutput(new, *self.heads(new.z_H))

    def halts(
        self, q_halt_logits: torch.Tensor, q_continue_logits: torch.Tensor, threshold: float | None = None
    ) -> torch.Tensor:
        """Whether the Q head says stop. By default the rule the model was trained with: q_halt > 0
        (TRM), or q_halt > q_continue (HRM, and TRM with no_ACT_continue=False). With a `threshold`:
        sigmoid(q_halt) > threshold."""
        if threshold is not None:
            return torch.sigmoid(q_halt_logits) > threshold
        if self.config.no_ACT_continue:
            return q_halt_logits > 0
        return q_halt_logits > q_continue_logits

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

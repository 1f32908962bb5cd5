"""What TRM and HRM share: the recurrent state, the embedding, the output heads, halting, one ACT step.

One call of `step()` is one ACT step ("refinement step"): the architecture's `recurse` updates the latent state
z_L and the current answer z_H, then logits = lm_head(z_H) and (q_halt, q_continue) = q_head(z_H[:, 0]). Every
operation follows the published order, so outputs agree with the published code to float32 rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trmsolve.config import CheckpointInfo, ModelConfig
from trmsolve.hardware import autocast_dtype
from trmsolve.network import neighbour
from trmsolve.network.layers import Embedding, Layout, Linear, PuzzleEmbedding, Rotary, trunc_normal_


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
    """A TRM or HRM (`trmsolve.network.build_model` picks the class by `config.arch`). Carries its `config` and
    checkpoint `info`; subclasses build their reasoning modules (`build_levels`) and define `recurse`."""

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
        self.build_levels(config)

        self.register_buffer("H_init", trunc_normal_(torch.empty(hidden), std=1.0))
        self.register_buffer("L_init", trunc_normal_(torch.empty(hidden), std=1.0))
        with torch.no_grad():  # the Q head starts out saying "continue"
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)

    def build_levels(self, config: ModelConfig) -> None:
        """Create the reasoning modules (`L_level`, and HRM's `H_level`)."""
        raise NotImplementedError

    def recurse(self, carry: Carry, x: torch.Tensor, layout: Layout) -> Carry:
        """The recursion of one ACT step. Only the final cycle carries gradients, as published."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        return self.H_init.device

    @property
    def dtype(self) -> torch.dtype:
        return self.H_init.dtype

    def canvas_positions(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Positions [S*S] of the canvas cells the network runs on for `inputs` [B, seq_len] (None: all)."""
        return neighbour.canvas_positions(self.config, inputs)

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
        threshold = neighbour.STENCIL_MIN_TOKENS_BF16_CPU if bf16_cpu else neighbour.STENCIL_MIN_TOKENS
        free = self.config.position_free_prefix  # only the stencil scores the prefix without positions
        if free or self.num_prefix_tokens + len(cells) >= threshold:  # a crop is the canvas's top-left square
            width = self.config.canvas_side if positions is None else math.isqrt(len(positions))
            stencil = neighbour.off_grid_keys(len(cells) // width, width, self.device)
            return Layout(rotary, stencil=stencil, prefix=self.num_prefix_tokens, position_free_prefix=free)
        mask = neighbour.neighbour_mask(cells, self.config.canvas_side, self.num_prefix_tokens)
        return Layout(rotary, attn_mask=mask)

    def heads(self, z_H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token logits [B, seq_len, vocab] and (q_halt, q_continue) [B], all float32."""
        logits = self.lm_head(z_H)[:, self.num_prefix_tokens :].float()
        # Two outputs: a per-row reduction rather than a GEMM, whose kernel (and rounding) would
        # depend on how many puzzles are still in the batch.
        q = ((z_H[:, 0, None, :] * self.q_head.weight).sum(-1) + self.q_head.bias).float()
        return logits, q[..., 0], q[..., 1]

    def step(self, carry: Carry, x: torch.Tensor, positions: torch.Tensor | None = None) -> StepOutput:
        """One ACT step from `carry` given the input embedding `x` (inference; the carry comes back detached).
        With `positions` (a canvas crop), the logits cover just those cells. `inference.run_step` runs it in
        passes sized for the device and through torch.compile."""
        new = self.recurse(carry, x, self.layout(positions))
        return StepOutput(Carry(new.z_H.detach(), new.z_L.detach()), *self.heads(new.z_H))

    def forward(
        self,
        carry: Carry,
        inputs: torch.Tensor,
        puzzle_identifiers: torch.Tensor | None = None,
        positions: torch.Tensor | None = None,
    ) -> StepOutput:
        """One ACT step from tokens, keeping the graph of its last cycle (training, DDP)."""
        new = self.recurse(carry, self.embed(inputs, puzzle_identifiers, positions), self.layout(positions))
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

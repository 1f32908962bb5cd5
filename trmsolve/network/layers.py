"""The building blocks the published TRM and HRM share: embeddings, rotary positions, SwiGLU, attention, the
post-norm block and a stack of blocks. Parameter names equal the published state dicts'."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from trmsolve.config import ModelConfig
from trmsolve.network.neighbour import neighbour_attention


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

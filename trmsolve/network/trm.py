"""TRM, the Tiny Recursive Model: one small network updates both the latent state and the answer.

    H_cycles x [ L_cycles x (z_L = net(z_L, z_H + x)) ; z_H = net(z_H, z_L) ]

The first H_cycles - 1 cycles run without gradients; only the last one is trained, as published.
"""

from __future__ import annotations

import torch

from trmsolve.config import ModelConfig
from trmsolve.network.base import Carry, RecursiveReasoningModel
from trmsolve.network.layers import Layout, ReasoningModule


class TRM(RecursiveReasoningModel):
    def build_levels(self, config: ModelConfig) -> None:
        self.L_level = ReasoningModule(config, config.L_layers)

    def recurse(self, carry: Carry, x: torch.Tensor, layout: Layout) -> Carry:
        z_H, z_L = carry.z_H, carry.z_L  # [B, total_len, hidden] each
        with torch.no_grad():
            for _ in range(self.config.H_cycles - 1):
                for _ in range(self.config.L_cycles):
                    z_L = self.L_level(z_L, z_H + x, layout)
                z_H = self.L_level(z_H, z_L, layout)
        for _ in range(self.config.L_cycles):
            z_L = self.L_level(z_L, z_H + x, layout)
        z_H = self.L_level(z_H, z_L, layout)
        return Carry(z_H, z_L)

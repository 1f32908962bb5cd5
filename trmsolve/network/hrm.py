"""HRM, the Hierarchical Reasoning Model: a low-level network updates the latent state, a high-level one the answer.

    H_cycles x [ L_cycles x (z_L = L_net(z_L, z_H + x)) ; z_H = H_net(z_H, z_L) ]

Only the very last L step and H step carry gradients (the one-step gradient), as published.
"""

from __future__ import annotations

import torch

from trmsolve.config import ModelConfig
from trmsolve.network.base import Carry, RecursiveReasoningModel
from trmsolve.network.layers import Layout, ReasoningModule


class HRM(RecursiveReasoningModel):
    def build_levels(self, config: ModelConfig) -> None:
        self.H_level = ReasoningModule(config, config.H_layers)
        self.L_level = ReasoningModule(config, config.L_layers)

    def recurse(self, carry: Carry, x: torch.Tensor, layout: Layout) -> Carry:
        z_H, z_L = carry.z_H, carry.z_L  # [B, total_len, hidden] each
        cycles, l_cycles = self.config.H_cycles, self.config.L_cycles
        with torch.no_grad():
            for h_step in range(cycles):
                last_h = h_step == cycles - 1
                for l_step in range(l_cycles):
                    if not (last_h and l_step == l_cycles - 1):
                        z_L = self.L_level(z_L, z_H + x, layout)
                if not last_h:
                    z_H = self.H_level(z_H, z_L, layout)
        z_L = self.L_level(z_L, z_H + x, layout)
        z_H = self.H_level(z_H, z_L, layout)
        return Carry(z_H, z_L)

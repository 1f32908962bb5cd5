"""Sign-SGD for puzzle embeddings, shared by `trmsolve train` and ARC adaptation."""

from __future__ import annotations

import torch


class SignSGD:
    """Sign-SGD with decoupled weight decay on the rows of the puzzle embedding that got a gradient.

    Adam on rarely-seen rows is close to sign-SGD; the published code uses this for puzzle embeddings.
    """

    def __init__(self, weights: torch.nn.Parameter, lr: float, weight_decay: float) -> None:
        self.weights, self.lr, self.weight_decay = weights, lr, weight_decay

    @torch.no_grad()
    def step(self, lr_scale: float) -> None:
        grad = self.weights.grad
        if grad is None:
            return
        rows = grad.abs().sum(-1).nonzero().squeeze(-1)
        lr = self.lr * lr_scale
        w = self.weights[rows]
        w.mul_(1.0 - lr * self.weight_decay).add_(grad[rows].sign(), alpha=-lr)
        self.weights[rows] = w
        self.weights.grad = None

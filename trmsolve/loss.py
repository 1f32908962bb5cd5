"""The ACT loss of the published recipe, written once for `trmsolve train` and for ARC adaptation: per puzzle the
mean token loss (stablemax cross-entropy by default), plus 0.5 x the binary cross-entropy of the Q head's
halting logit against whether the whole answer is exact."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_LABEL = -100  # a label position neither scored nor trained on
Q_LOSS_WEIGHT = 0.5


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log of stablemax: s(x) = 1/(1-x) for x < 0, x + 1 otherwise, normalised (float64, as published)."""
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def token_losses(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-position cross-entropy [B, seq]; 0 where the label is ignored."""
    valid = labels != IGNORE_LABEL
    safe = torch.where(valid, labels, 0)
    if kind == "stablemax":
        logprobs = log_stablemax(logits.double())
        loss = -logprobs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    else:
        loss = F.cross_entropy(logits.float().transpose(1, 2), safe, reduction="none")
    return torch.where(valid, loss, 0).float()


@dataclass
class ActLoss:
    """One ACT step's loss terms, summed over the batch, and what was right."""

    lm: torch.Tensor  # sum over puzzles of each one's weighted mean token loss
    q_halt: torch.Tensor  # sum over puzzles of the halting BCE against `exact`
    correct: torch.Tensor  # [B, seq] bool: predicted token equals a scored label
    exact: torch.Tensor  # [B] bool: every scored position right

    def total(self, batch_size: int, q_extra: torch.Tensor | float = 0.0) -> torch.Tensor:
        """(lm + 0.5 x (q_halt + q_extra)) / batch_size: `q_extra` is HRM's Q-continue term."""
        return (self.lm + Q_LOSS_WEIGHT * (self.q_halt + q_extra)) / batch_size


def act_loss(
    logits: torch.Tensor,
    q_halt_logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor | None = None,
    kind: str = "stablemax",
) -> ActLoss:
    """The loss of one ACT step: logits [B, seq, vocab], q_halt_logits [B], labels [B, seq] (IGNORE_LABEL where
    nothing is scored); `weights` [B, seq] weigh positions within a puzzle's mean (default: every scored one)."""
    valid = labels != IGNORE_LABEL
    with torch.no_grad():
        correct = (logits.argmax(-1) == labels) & valid
        exact = correct.sum(-1) == valid.sum(-1)
    weights = valid.float() if weights is None else weights
    lm = (token_losses(logits, labels, kind) * weights / weights.sum(-1, keepdim=True).clamp_min(1e-9)).sum()
    q_halt = F.binary_cross_entropy_with_logits(q_halt_logits, exact.to(q_halt_logits.dtype), reduction="sum")
    return ActLoss(lm, q_halt, correct, exact)

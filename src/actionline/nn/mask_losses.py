"""Losses and matching costs between soft masks and binary masks (DETR / Mask2Former family).

Used by BaFormer (Eq. 5) and the global-mask detectors. Losses average over the temporal axis; the ``*_cost``
functions return a [num_pred, num_gt] matrix for bipartite matching.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Per-mask focal loss (Lin et al. 2017) averaged over time: logits/targets [N, T] -> [N]."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Per-mask dice loss (Milletari et al. 2016) with +1 smoothing: [N, T] -> [N]."""
    p = torch.sigmoid(logits)
    return 1 - (2 * (p * targets).sum(-1) + smooth) / (p.sum(-1) + targets.sum(-1) + smooth)


def sigmoid_focal_cost(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss of every prediction [P, T] against every target [G, T], averaged over time -> [P, G]."""
    p = torch.sigmoid(logits)
    pos = (
        alpha * (1 - p) ** gamma * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    )
    neg = (
        (1 - alpha) * p**gamma * F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    )
    return (pos @ targets.T + neg @ (1 - targets).T) / logits.shape[-1]


def dice_cost(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Dice loss of every prediction [P, T] against every target [G, T] -> [P, G]."""
    p = torch.sigmoid(logits)
    return 1 - (2 * p @ targets.T + smooth) / (p.sum(-1)[:, None] + targets.sum(-1)[None, :] + smooth)

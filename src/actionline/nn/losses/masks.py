"""Losses and matching costs between soft masks and binary masks (DETR / Mask2Former family).

Used by BaFormer (Eq. 5). Losses average over the temporal axis; `mask_matching_costs` returns [num_pred, num_gt]
matrices for bipartite matching.
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


def mask_matching_costs(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0, smooth: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The focal and dice losses of every prediction [P, T] against every target [G, T] (no gradients), each
    [P, G]: the costs of bipartite matching.

    One ``logsigmoid`` gives both cross-entropies (``-log σ(x)`` against 1, ``x - log σ(x)`` against 0) and
    ``σ(x)``; with binary targets the focal cost is ``(pos - neg) @ targets.T + neg.sum(-1)`` (one product).
    """
    with torch.no_grad():
        log_p = F.logsigmoid(logits)
        p = log_p.exp()
        neg = (logits - log_p).mul_(p.pow(gamma)).mul_(1 - alpha)  # the loss of predicting a frame outside
        pos = (1 - p).pow_(gamma).mul_(log_p).mul_(-alpha)  # ... and inside the target
        focal = (pos.sub_(neg) @ targets.T).add_(neg.sum(-1, keepdim=True)).div_(logits.shape[-1])
        dice = 1 - (2 * p @ targets.T + smooth) / (p.sum(-1)[:, None] + targets.sum(-1)[None, :] + smooth)
    return focal, dice

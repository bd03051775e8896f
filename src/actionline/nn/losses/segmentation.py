"""Losses shared by the segmentation models."""

from __future__ import annotations

import torch
from torch.nn import functional as F

IGNORE_INDEX = -100


def smoothing_loss(logits: torch.Tensor, mask: torch.Tensor, clamp: float = 16.0) -> torch.Tensor:
    """MS-TCN truncated MSE (Sec. 3.3): MSE between log-probabilities at t and the detached ones at t-1,
    clamped to ``[0, clamp]``, masked, averaged over all elements of ``[B, C, T-1]`` as the reference does."""
    log_p = F.log_softmax(logits, dim=1)
    diff = (log_p[:, :, 1:] - log_p.detach()[:, :, :-1]) ** 2
    return (diff.clamp(0, clamp) * mask[:, None, 1:]).mean()


def stage_losses(
    stage_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, smooth_weight: float
) -> dict[str, torch.Tensor]:
    """Cross-entropy + ``smooth_weight`` x smoothing loss summed over stages (MS-TCN Sec. 3.3, ASFormer).

    ``stage_logits`` [S, B, C, T]; ``labels`` [B, T] with ``IGNORE_INDEX`` on padding; ``mask`` [B, T].
    """
    S, B, C, T = stage_logits.shape
    flat = stage_logits.permute(0, 1, 3, 2).reshape(S, B * T, C)
    target = labels.reshape(B * T)
    ce = sum(F.cross_entropy(flat[s], target, ignore_index=IGNORE_INDEX) for s in range(S))
    smooth = sum(smoothing_loss(stage_logits[s], mask) for s in range(S))
    return {"ce": ce, "smooth": smooth, "total": ce + smooth_weight * smooth}

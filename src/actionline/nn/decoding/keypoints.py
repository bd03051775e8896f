"""Temporal keypoints of RTK (Jiang et al., CVPR 2024, Sec. 3.1): heatmap targets, the focal loss of Eq. 1 and
candidate extraction. Targets are built per video in numpy, vectorised over segments and frames.

Definitions (Sec. 3.1 and 4.1), with the choices the paper leaves open:

- **Boundary points** are the first frames of every segment after the first (the label changes there); the
  video ends are the fixed outer boundaries of Eq. 6b and are not predicted. Each splats an un-normalised
  Gaussian ``exp(-(x-p)^2 / 2σ_b^2)`` with σ_b = 0.5 r_b, r_b = 33, inside the region ``|x - p| <= r_b / 2``;
  overlapping Gaussians take the element-wise maximum; the heatmap is 1 exactly at p.
- **Action points** are segment mid-points (every segment, background included, since Eq. 6 places one action
  point between every two boundaries). Frames within the positive region ``0.32 l`` around the mid-point are 1;
  around it the Gaussian with σ_c = 0.25 r_c, r_c = 0.8 l fills the region ``|x - mid| <= r_c / 2``.
"""

from __future__ import annotations

import numpy as np
import torch

from actionline.nn.decoding.peaks import plateau_maxima
from actionline.timeline import runs


def _splat(centres: np.ndarray, sigmas: np.ndarray, radii: np.ndarray, length: int) -> np.ndarray:
    """Max over points of truncated un-normalised Gaussians -> [T]."""
    if len(centres) == 0:
        return np.zeros(length, dtype=np.float32)
    x = np.arange(length, dtype=np.float64)[None, :]
    d = x - centres[:, None]
    g = np.exp(-(d**2) / (2 * sigmas[:, None] ** 2)) * (np.abs(d) <= radii[:, None])
    return g.max(axis=0).astype(np.float32)


def boundary_heatmap(labels: np.ndarray, region: float = 33.0) -> np.ndarray:
    """Category-agnostic boundary-point heatmap [T] (r_b = ``region``, σ_b = 0.5 r_b)."""
    starts, _, _ = runs(labels)
    points = starts[1:].astype(np.float64)
    heat = _splat(points, np.full(len(points), 0.5 * region), np.full(len(points), region / 2), len(labels))
    heat[starts[1:]] = 1.0
    return heat


def action_heatmap(labels: np.ndarray, region: float = 0.8, positive: float = 0.32, sigma: float = 0.25) -> np.ndarray:
    """Category-agnostic action-point localisation heatmap [T]: r_c = ``region`` l, σ_c = ``sigma`` r_c, ones in
    the ``positive`` l region around each mid-point."""
    starts, ends, _ = runs(labels)
    lengths = (ends - starts).astype(np.float64)
    mids = (starts + ends - 1) / 2.0
    heat = _splat(mids, np.maximum(sigma * region * lengths, 0.5), region * lengths / 2, len(labels))
    x = np.arange(len(labels))[None, :]
    inside = np.abs(x - mids[:, None]) <= np.maximum(positive * lengths / 2, 0.5)[:, None]
    heat[inside.any(axis=0)] = 1.0
    return heat


def keypoint_focal_loss(
    prob: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor,
    alpha: float = 2.0,
    beta: float = 4.0,
    gamma: float = 0.75,
) -> torch.Tensor:
    """Eq. 1: ``-(1-γ)(1-ŷ)^α log ŷ`` at positives (y = 1), ``-γ(1-y)^β ŷ^α log(1-ŷ)`` elsewhere, summed and
    divided by the number of positives K (at least 1). ``prob``, ``target``, ``valid`` [B, T]."""
    eps = 1e-6
    p = prob.clamp(eps, 1 - eps)
    pos = (target >= 1.0) & valid
    neg = (~pos) & valid
    pos_loss = -(1 - gamma) * (1 - p) ** alpha * torch.log(p)
    neg_loss = -gamma * (1 - target) ** beta * p**alpha * torch.log(1 - p)
    total = (pos_loss * pos).sum() + (neg_loss * neg).sum()
    return total / pos.sum().clamp_min(1)


def candidates(heat: np.ndarray, threshold: float, max_count: int) -> np.ndarray:
    """Local maxima of ``heat`` [T] above ``threshold`` (Sec. 3.2), the ``max_count`` highest (N_max = αT),
    returned in temporal order. A flat top is one peak at its middle: the action target is exactly 1 across the
    middle of every segment, so a well-trained action heatmap has plateaus, not strict maxima."""
    peaks = plateau_maxima(heat, threshold)
    if len(peaks) > max_count:
        peaks = np.sort(peaks[np.argsort(-heat[peaks], kind="stable")[:max_count]])
    return peaks

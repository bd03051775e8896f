"""Differentiable temporal sampling: MuCon's template masks (dissertation Sec. 9.3; specs §2.4) and SCT's region
upsampling (Sec. 8.3; specs §1.2).

Relative lengths ``l`` (unbounded logits) become absolute lengths ``l' = T softmax(l)`` and start positions
``p'_m = Σ_{k<m} l'_k``. The **box** mask of segment m gives frame t the length of the overlap of ``[t, t+1)`` with
``[p'_m, p'_m + l'_m)``: masks partition the frames exactly (columns sum to 1) and are piecewise linear in the
lengths, so gradients reach them at every boundary. (The reference samples a J = 100-point template with a tent
kernel through ``grid_sample``; its ramps are 1/J of a segment wide, so columns only sum to about 1 and the
gradient is sparse.) **bell** (Gaussian, std J/5) and **trapezoid** templates are sampled at frame centres in
template coordinates ``J (t + 0.5 - p'_m) / l'_m``. ``overlap`` o widens every mask by o·l'_m on each side.
"""

from __future__ import annotations

import typing
from typing import Literal

import torch

Template = Literal["box", "bell", "trapezoid"]
TEMPLATES: tuple[str, ...] = typing.get_args(Template)


def absolute_lengths(length_logits: torch.Tensor, total: int) -> torch.Tensor:
    """``T softmax(l)`` [M]."""
    return total * torch.softmax(length_logits, dim=-1)


def template_masks(
    length_logits: torch.Tensor, total: int, template: str = "box", overlap: float = 0.0, points: int = 100
) -> torch.Tensor:
    """Masks [M, T] of M consecutive segments whose relative lengths are ``softmax(length_logits)``."""
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {', '.join(TEMPLATES)}, got {template!r}")
    lengths = absolute_lengths(length_logits, total)
    starts = torch.cumsum(lengths, 0) - lengths
    lo = (starts - overlap * lengths)[:, None]
    hi = (starts + lengths + overlap * lengths)[:, None]
    t = torch.arange(total, device=lengths.device, dtype=lengths.dtype)[None, :]
    if template == "box":
        return (torch.minimum(t + 1, hi) - torch.maximum(t, lo)).clamp_min(0.0)
    u = points * (t + 0.5 - lo) / (hi - lo)  # template coordinate in [0, J] inside the (widened) segment
    inside = ((u >= 0) & (u <= points)).to(lengths.dtype)
    if template == "bell":
        std = points / 5
        return torch.exp(-((u - points / 2) ** 2) / (2 * std**2)) * inside
    ramp = points / 4  # trapezoid: linear ramps over the first and last quarter
    return torch.clamp(torch.minimum(u, points - u) / ramp, 0.0, 1.0) * inside


def region_upsample(region_scores: torch.Tensor, length_logits: torch.Tensor, total: int) -> torch.Tensor:
    """SCT's f_u: region scores [C, K] with region lengths ``T softmax(l)`` -> frame scores [C, T] (box masks, so
    equal lengths that divide T give plain repetition)."""
    return region_scores @ template_masks(length_logits, total, "box")

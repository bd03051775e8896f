"""TensorFlow "SAME" padding for convolutions and pooling, computed from the input size (the Inception / I3D and
EfficientNet checkpoints were trained with it): per dimension the total padding is ``max(k - s, 0)`` when the size
is a multiple of the stride s, else ``max(k - size % s, 0)``; the odd element goes at the end."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F


def same_padding(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int], value: float = 0.0) -> torch.Tensor:
    """Pad the trailing ``len(kernel)`` dimensions of ``x`` as TensorFlow's SAME would."""
    pads: list[int] = []
    for size, k, s in zip(reversed(x.shape[-len(kernel) :]), reversed(kernel), reversed(stride), strict=True):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x

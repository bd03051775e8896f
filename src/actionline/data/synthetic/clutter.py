"""Cluttered-object images for token sampling (dissertation ch. 7 on a CPU): one large object among a varying number
of small distractor blobs (the clutter, 0-16) on a shaded background, 32 x 32 RGB in [0, 1].

The label is either the large object's ``shape`` (disc, square, triangle, cross; its colour random) or its
``colour`` (red, green, blue, yellow around fixed centres; its shape random). Both need the object's tokens and
none of the clutter's, which is what an adaptive token sampler should find.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from actionline.data.synthetic.features import require_settings
from actionline.errors import DataError

SIZE = 32
SHAPES = ("disc", "square", "triangle", "cross")
COLOURS = {"red": (0.85, 0.2, 0.2), "green": (0.2, 0.75, 0.25), "blue": (0.2, 0.3, 0.9), "yellow": (0.9, 0.85, 0.2)}
MAX_CLUTTER = 16
Target = Literal["shape", "colour"]


def _shape(kind: int, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    if kind == 0:
        return dx**2 + dy**2 < r * r
    if kind == 1:
        return (np.abs(dx) < r * 0.85) & (np.abs(dy) < r * 0.85)
    if kind == 2:
        return (dy < r * 0.8) & (dy > -r) & (np.abs(dx) < (dy + r) * 0.6)
    return ((np.abs(dx) < r * 0.3) | (np.abs(dy) < r * 0.3)) & (np.abs(dx) < r) & (np.abs(dy) < r)


def cluttered_objects(
    n: int, rng: np.random.Generator, target: Target = "shape"
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n`` images [n, 3, 32, 32] in [0, 1], their labels [n] (index into `SHAPES` or `COLOURS`) and clutter [n]."""
    require_settings(n=(n, 1))
    if target not in ("shape", "colour"):
        raise DataError(f"target must be 'shape' or 'colour', got {target!r}")
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    out = np.empty((n, SIZE, SIZE, 3), dtype=np.float32)
    labels, clutter = rng.integers(0, 4, n), rng.integers(0, MAX_CLUTTER + 1, n)
    centres = np.asarray(list(COLOURS.values()), dtype=np.float32)
    for i in range(n):
        img = np.clip(rng.uniform(0.2, 0.7) + 0.15 * rng.standard_normal() * (xx / SIZE - 0.5), 0, 1)
        img = np.repeat(img[..., None], 3, axis=2) + rng.normal(0, 0.03, (SIZE, SIZE, 3))
        for _ in range(clutter[i]):  # small blobs of any colour
            cx, cy, r = rng.uniform(0, SIZE), rng.uniform(0, SIZE), rng.uniform(1.0, 2.2)
            img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0, 1, 3)
        cx, cy, r = rng.uniform(9, SIZE - 9), rng.uniform(9, SIZE - 9), rng.uniform(5, 7.5)
        kind = labels[i] if target == "shape" else int(rng.integers(4))
        colour = rng.uniform(0, 1, 3) if target == "shape" else centres[labels[i]] + rng.uniform(-0.1, 0.1, 3)
        img[_shape(kind, xx - cx, yy - cy, r)] = colour
        out[i] = img
    return (
        torch.from_numpy(out).clamp(0, 1).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(labels),
        torch.from_numpy(clutter),
    )

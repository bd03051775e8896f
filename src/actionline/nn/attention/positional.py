"""Fixed sinusoidal position tables (Vaswani et al. 2017), used by BaFormer's queries and TAGS' optional encoding."""

from __future__ import annotations

import math

import torch


def sinusoid_table(n: int, dim: int) -> torch.Tensor:
    """Fixed sinusoidal embeddings [n, dim] (Vaswani et al. 2017), added once to the learnable queries."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table

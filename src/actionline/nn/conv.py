"""Pointwise (1x1) convolution computed as one matrix product with the bias fused in (``addmm`` / ``baddbmm``).

Same parameters and state dict as ``nn.Conv1d(in, out, 1)``, same outputs and gradients (tested to 1e-5). On the
CPU the fused product is about 2x faster than the convolution kernel for the wide input projections (2048 -> 64)
and about 5x for the 64 -> 64 layers of MS-TCN and ASFormer at T = 5,750 (a separate bias add was a second pass
over the output).
"""

from __future__ import annotations

import torch
from torch import nn


class Pointwise(nn.Conv1d):
    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C_in, T] -> [B, C_out, T]."""
        weight = self.weight[:, :, 0]
        if self.bias is None:
            return torch.matmul(weight, x)
        if x.shape[0] == 1:
            return torch.addmm(self.bias[:, None], weight, x[0]).unsqueeze(0)
        return torch.baddbmm(self.bias[None, :, None], weight.expand(x.shape[0], -1, -1), x)

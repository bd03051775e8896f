"""Dilated temporal convolutions of MS-TCN (Farha & Gall, CVPR 2019, Sec. 3.1), on time-major frames.

Frames are [B, T, C] inside a stage (see `actionline.nn.conv`); ``mask`` is [B, T, 1], or ``None`` when every
frame is valid (multiplying by an all-ones mask changes nothing, so it is skipped).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.conv import FrameDilatedConv, FramePointwise
from actionline.nn.dropout import Dropout


class DilatedResidualLayer(nn.Module):
    """Kernel-3 dilated conv -> ReLU -> 1x1 conv -> dropout -> residual add -> mask. No normalisation."""

    def __init__(self, dilation: int, channels: int, dropout: float = 0.5):
        super().__init__()
        self.conv_dilated = FrameDilatedConv(channels, channels, dilation)
        self.conv_1x1 = FramePointwise(channels, channels)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.dropout.residual(x, self.conv_1x1(F.relu(self.conv_dilated(x), inplace=True)))
        return out if mask is None else out.mul_(mask)


class SingleStageTCN(nn.Module):
    """1x1 conv in -> ``num_layers`` dilated residual layers (dilation 2^i) -> 1x1 conv to classes, masked.

    Time-major in and out: [B, T, D] -> [B, T, K].
    """

    def __init__(self, num_layers: int, channels: int, input_dim: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.conv_in = FramePointwise(input_dim, channels)
        self.layers = nn.ModuleList(DilatedResidualLayer(2**i, channels, dropout) for i in range(num_layers))
        self.conv_out = FramePointwise(channels, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.conv_in(x)
        for layer in self.layers:
            out = layer(out, mask)
        out = self.conv_out(out)
        return out if mask is None else out.mul_(mask)

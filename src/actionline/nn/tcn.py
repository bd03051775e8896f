"""Dilated temporal convolutions of MS-TCN (Farha & Gall, CVPR 2019, Sec. 3.1)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.conv import Pointwise


class DilatedResidualLayer(nn.Module):
    """Kernel-3 dilated conv -> ReLU -> 1x1 conv -> dropout -> residual add -> mask. No normalisation."""

    def __init__(self, dilation: int, channels: int, dropout: float = 0.5):
        super().__init__()
        self.conv_dilated = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv_1x1 = Pointwise(channels, channels)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.dropout(self.conv_1x1(F.relu(self.conv_dilated(x))))
        return (x + out) * mask


class SingleStageTCN(nn.Module):
    """1x1 conv in -> ``num_layers`` dilated residual layers (dilation 2^i) -> 1x1 conv to classes, masked."""

    def __init__(self, num_layers: int, channels: int, input_dim: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.conv_in = Pointwise(input_dim, channels)
        self.layers = nn.ModuleList(DilatedResidualLayer(2**i, channels, dropout) for i in range(num_layers))
        self.conv_out = Pointwise(channels, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = self.conv_in(x)
        for layer in self.layers:
            out = layer(out, mask)
        return self.conv_out(out) * mask

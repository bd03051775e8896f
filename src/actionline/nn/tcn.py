"""Dilated temporal convolutions of MS-TCN (Farha & Gall, CVPR 2019, Sec. 3.1), on time-major frames.

Frames are [B, T, C] inside a stage (see `actionline.nn.conv`); ``mask`` is [B, T, 1], or ``None`` when every
frame is valid (multiplying by an all-ones mask changes nothing, so it is skipped).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.conv import FrameDilatedConv, FramePointwise, conv_add_, conv_into, hooked
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

    def update_(self, x: torch.Tensor, mask: torch.Tensor | None, scratch: torch.Tensor) -> torch.Tensor:
        """`forward` without gradients, in place: ``x`` becomes the layer's output and ``scratch`` (a buffer
        of ``x``'s shape) holds the hidden layer, so a stage allocates nothing per layer (fresh feature maps
        are written to memory the cache has not seen: up to a third of the inference time)."""
        conv = self.conv_dilated
        hidden = conv_into(scratch, x, conv.weight, conv.bias, conv.dilation[0]).relu_()
        conv_add_(x, hidden, self.conv_1x1.weight, self.conv_1x1.bias)
        return x if mask is None else x.mul_(mask)


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
        if torch.is_grad_enabled() or hooked(self.layers):  # otherwise in place
            for layer in self.layers:
                out = layer(out, mask)
        else:
            scratch = torch.empty_like(out)
            for layer in self.layers:
                layer.update_(out, mask, scratch)
        out = self.conv_out(out)
        return out if mask is None else out.mul_(mask)

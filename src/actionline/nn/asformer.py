"""ASFormer's building blocks (Yi et al., BMVC 2021, Sec. 3.1-3.2), shared by ASFormer, BaFormer and RTK.

A block is a dilated convolution (the feed-forward layer) followed by instance-normalised local window attention
with block length 2^i and a 1x1 conv, with a residual connection; a stage stacks blocks between 1x1 convolutions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from actionline.nn.conv import Pointwise
from actionline.nn.window_attention import window_attention


class ASFormerBlock(nn.Module):
    """Dilated conv + ReLU -> alpha * WindowAttention(InstanceNorm(.)) + . -> 1x1 conv -> dropout -> residual."""

    def __init__(
        self, layer: int, channels: int, att_channels: int, alpha: float, dropout: float, full_window: bool = False
    ):
        super().__init__()
        self.block = 2**layer
        self.alpha = alpha
        self.full_window = full_window
        self.feed_forward = nn.Conv1d(channels, channels, 3, padding=2**layer, dilation=2**layer)
        self.query = Pointwise(channels, att_channels)
        self.key = Pointwise(channels, att_channels)
        self.value = Pointwise(channels, att_channels)
        self.att_out = Pointwise(att_channels, channels)
        self.conv_1x1 = Pointwise(channels, channels)
        self.dropout = nn.Dropout(dropout)

    def attention(self, x: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        att = window_attention(self.query(x), self.key(x), self.value(values), mask, self.block, self.full_window)
        return self.att_out(F.relu(att)) * mask[:, None, :]

    def forward(self, x: torch.Tensor, mask: torch.Tensor, values: torch.Tensor | None = None) -> torch.Tensor:
        out = F.relu(self.feed_forward(x))
        normed = F.instance_norm(out) if out.shape[-1] > 1 else torch.zeros_like(out)  # one frame: x - mean = 0
        out = self.alpha * self.attention(normed, normed if values is None else values, mask) + out
        out = self.dropout(self.conv_1x1(out))
        return (x + out) * mask[:, None, :]


class ASFormerStage(nn.Module):
    """1x1 conv in -> ``num_layers`` blocks (block i: window 2^i) -> 1x1 conv to classes. Used as encoder
    (self-attention, ``alpha`` 1) and decoder (cross-attention, ``alpha = exp(-3 s)``).

    ``num_classes=None`` leaves out the frame classifier (BaFormer and RTK use the stage's features only).
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int,
        channels: int,
        att_channels: int,
        dropout: float,
        alpha: float,
        full_window: bool = False,
        num_classes: int | None = None,
    ):
        super().__init__()
        self.conv_in = Pointwise(input_dim, channels)
        self.blocks = nn.ModuleList(
            ASFormerBlock(i, channels, att_channels, alpha, dropout, full_window) for i in range(num_layers)
        )
        self.conv_out = Pointwise(channels, num_classes) if num_classes is not None else None

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, values: torch.Tensor | None = None, keep_levels: bool = False
    ):
        feature = self.conv_in(x)
        levels = []
        for block in self.blocks:
            feature = block(feature, mask, values)
            if keep_levels:
                levels.append(feature)
        logits = self.conv_out(feature) * mask[:, None, :] if self.conv_out is not None else None
        return logits, feature, levels

"""The WaveNet-style temporal convolution block (TCB) and backbone of SCT and MuCon (dissertation Ch. 8-9;
specs weak-supervision §1.1, §2.1).

TCB: ``x + Dropout(Conv1x1(ReLU(DilatedConv_k3(x))))``. The backbone: Conv1x1 D -> channels + ReLU, TCBs with
dilation 2^i, a max-pool (k2, s2) after the listed 0-based layers, and the output of any layer can be tapped
(SCT's Z after layer 4 and Z' at the end; MuCon's single output).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class TemporalConvBlock(nn.Module):
    def __init__(self, channels: int, dilation: int, dropout: float = 0.25):
        super().__init__()
        self.dilated = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.pointwise = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.pointwise(F.relu(self.dilated(x))))


class TemporalBackbone(nn.Module):
    """``layers`` TCBs with dilations 2^0..2^(layers-1), max-pooling after the layers in ``pool_after``.

    ``forward`` returns the final output and the outputs after the layers in ``taps`` (after their pooling).
    """

    def __init__(
        self,
        input_dim: int,
        channels: int = 128,
        layers: int = 11,
        pool_after: Sequence[int] = (1, 2, 4, 8),
        input_dropout: float = 0.0,
        dropout: float = 0.25,
    ):
        super().__init__()
        self.input_dropout = nn.Dropout1d(input_dropout)
        self.conv_in = nn.Conv1d(input_dim, channels, 1)
        self.blocks = nn.ModuleList(TemporalConvBlock(channels, 2**i, dropout) for i in range(layers))
        self.pool_after = set(pool_after)

    @property
    def downsampling(self) -> int:
        return 2 ** len(self.pool_after)

    def forward(self, x: torch.Tensor, taps: Sequence[int] = ()) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        h = F.relu(self.conv_in(self.input_dropout(x)))
        tapped = {}
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.pool_after and h.shape[-1] >= 2:
                h = F.max_pool1d(h, 2, 2)
            if i in taps:
                tapped[i] = h
        return h, tapped

"""ASFormer: Transformer for Action Segmentation (Yi, Wen & Jiang, BMVC 2021).

An encoder and three decoders of ten blocks each, 64 channels (Sec. 3). A block is a dilated convolution
(the feed-forward layer, Sec. 3.1) followed by instance-normalised local window attention with block length
2^i (Sec. 3.1, "local connectivity inductive bias") and a 1x1 conv, with a residual connection. Decoders
cross-attend: queries and keys from their own features, values from the previous stage (Sec. 3.2), with
attention weight ``alpha = exp(-3 s)`` for decoder ``s``. All four outputs take the MS-TCN loss.
1,134,476 parameters for 2048-d input and 19 classes (specs §3).

Window attention follows the paper's intent (each query sees the ``bl`` keys around it); the reference code's
all-ones window mask is available as ``full_window=true`` (see `actionline.nn.window_attention`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from actionline.errors import ConfigError
from actionline.models.base import ModelConfig, SegmentationModel
from actionline.models.registry import register
from actionline.nn.conv import Pointwise
from actionline.nn.losses import stage_losses
from actionline.nn.window_attention import window_attention


@dataclass
class ASFormerConfig(ModelConfig):
    num_decoders: int = 3
    num_layers: int = 10
    num_f_maps: int = 64
    att_channels: int = 32  # 64 // r with r1 = r2 = 2
    channel_dropout: float = 0.3  # input Dropout2d; 0.5 for GTEA
    dropout: float = 0.5
    smooth_weight: float = 0.15
    full_window: bool = False  # reproduce the reference window-mask bug

    def validate(self) -> None:
        super().validate()
        if self.num_layers < 1 or self.num_decoders < 0:
            raise ConfigError("num_layers must be >= 1 and num_decoders >= 0")


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
        normed = F.instance_norm(out)
        out = self.alpha * self.attention(normed, normed if values is None else values, mask) + out
        out = self.dropout(self.conv_1x1(out))
        return (x + out) * mask[:, None, :]


class ASFormerStage(nn.Module):
    """1x1 conv in -> blocks -> 1x1 conv to classes. Used as encoder (self-attention) and decoder (cross).

    ``classify=False`` leaves out the frame classifier (BaFormer uses the encoder's features only).
    """

    def __init__(self, c: ASFormerConfig, input_dim: int, alpha: float, classify: bool = True):
        super().__init__()
        self.conv_in = Pointwise(input_dim, c.num_f_maps)
        self.blocks = nn.ModuleList(
            ASFormerBlock(i, c.num_f_maps, c.att_channels, alpha, c.dropout, c.full_window) for i in range(c.num_layers)
        )
        self.conv_out = Pointwise(c.num_f_maps, c.num_classes) if classify else None

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


@register("asformer")
class ASFormer(SegmentationModel):
    Config = ASFormerConfig

    def __init__(self, config: ASFormerConfig):
        super().__init__(config)
        self.channel_dropout = nn.Dropout1d(config.channel_dropout)
        self.encoder = ASFormerStage(config, config.input_dim, alpha=1.0)
        self.decoders = nn.ModuleList(
            ASFormerStage(config, config.num_classes, alpha=math.exp(-3 * s)) for s in range(config.num_decoders)
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        m = mask.to(features.dtype)
        out, feature, _ = self.encoder(self.channel_dropout(features), m)
        logits = [out]
        for decoder in self.decoders:
            out, feature, _ = decoder(F.softmax(out, dim=1) * m[:, None, :], m, values=feature * m[:, None, :])
            logits.append(out)
        return {"logits": torch.stack(logits)}

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return stage_losses(outputs["logits"], targets["labels"], targets["mask"], self.config.smooth_weight)

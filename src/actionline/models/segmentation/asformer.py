"""ASFormer: Transformer for Action Segmentation (Yi, Wen & Jiang, BMVC 2021).

An encoder and three decoders of ten blocks each, 64 channels (Sec. 3). A block is a dilated convolution
(the feed-forward layer, Sec. 3.1) followed by instance-normalised local window attention with block length
2^i (Sec. 3.1, "local connectivity inductive bias") and a 1x1 conv, with a residual connection. Decoders
cross-attend: queries and keys from their own features, values from the previous stage (Sec. 3.2), with
attention weight ``alpha = exp(-3 s)`` for decoder ``s``. All four outputs take the MS-TCN loss.
1,134,476 parameters for 2048-d input and 19 classes (specs §3).

Window attention follows the paper's intent (each query sees the ``bl`` keys around it); the reference code's
all-ones window mask is available as ``full_window=true`` (see `actionline.nn.attention.window_attention`).
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
from actionline.nn.attention.asformer import ASFormerStage
from actionline.nn.losses.segmentation import stage_losses
from actionline.nn.temporal.conv import valid_or_none
from actionline.nn.temporal.dropout import ChannelDropout


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

    def stage(self, input_dim: int, alpha: float, num_classes: int | None) -> ASFormerStage:
        """An encoder (``alpha`` 1) or decoder stage of this configuration."""
        return ASFormerStage(
            input_dim,
            self.num_layers,
            self.num_f_maps,
            self.att_channels,
            self.dropout,
            alpha,
            self.full_window,
            num_classes,
        )


@register("asformer")
class ASFormer(SegmentationModel):
    Config = ASFormerConfig

    def __init__(self, config: ASFormerConfig):
        super().__init__(config)
        self.channel_dropout = ChannelDropout(config.channel_dropout)
        self.encoder = config.stage(config.input_dim, 1.0, config.num_classes)
        self.decoders = nn.ModuleList(
            config.stage(config.num_classes, math.exp(-3 * s), config.num_classes) for s in range(config.num_decoders)
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        # stages run time-major (`nn.temporal.conv`); the channels-first input is read through a transposed view
        m = valid_or_none(mask, features.dtype)
        out, feature, _ = self.encoder(
            features.transpose(1, 2), m, input_scales=self.channel_dropout.scales(*features.shape[:2], features)
        )
        logits = [out]
        for decoder in self.decoders:
            probs = F.softmax(out, dim=-1)
            if m is not None:
                probs, feature = probs * m[:, :, None], feature * m[:, :, None]
            out, feature, _ = decoder(probs, m, values=feature)
            logits.append(out)
        return {"logits": torch.stack(logits).transpose(2, 3)}  # [S, B, K, T]

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return stage_losses(outputs["logits"], targets["labels"], targets["mask"], self.config.smooth_weight)

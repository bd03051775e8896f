"""MS-TCN: Multi-Stage Temporal Convolutional Network (Farha & Gall, CVPR 2019).

Four stages of ten dilated residual layers with 64 feature maps (Sec. 3.1-3.2); stages 2-4 refine the
softmax of the previous stage (Sec. 3.2); every stage is supervised with cross-entropy + 0.15 x the truncated
MSE smoothing loss (Sec. 3.3). 800,396 parameters for 2048-d input and 19 classes (specs §1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from actionline.errors import ConfigError
from actionline.models.base import ModelConfig, SegmentationModel
from actionline.models.registry import register
from actionline.nn.losses.segmentation import stage_losses
from actionline.nn.temporal.conv import valid_or_none
from actionline.nn.temporal.tcn import SingleStageTCN


@dataclass
class MSTCNConfig(ModelConfig):
    num_stages: int = 4
    num_layers: int = 10
    num_f_maps: int = 64
    dropout: float = 0.5
    smooth_weight: float = 0.15

    def validate(self) -> None:
        super().validate()
        if self.num_stages < 1 or self.num_layers < 1 or self.num_f_maps < 1:
            raise ConfigError("num_stages, num_layers and num_f_maps must be positive")


@register("mstcn")
class MSTCN(SegmentationModel):
    Config = MSTCNConfig

    def __init__(self, config: MSTCNConfig):
        super().__init__(config)
        c = config
        self.stages = torch.nn.ModuleList(
            [SingleStageTCN(c.num_layers, c.num_f_maps, c.input_dim, c.num_classes, c.dropout)]
            + [
                SingleStageTCN(c.num_layers, c.num_f_maps, c.num_classes, c.num_classes, c.dropout)
                for _ in range(c.num_stages - 1)
            ]
        )

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        # stages run time-major (`nn.temporal.conv`); the channels-first input is read through a transposed view
        valid = valid_or_none(mask, features.dtype)
        m = None if valid is None else valid[:, :, None]
        out = self.stages[0](features.transpose(1, 2), m)
        logits = [out]
        for stage in self.stages[1:]:
            probs = F.softmax(out, dim=-1)
            out = stage(probs if m is None else probs * m, m)
            logits.append(out)
        return {"logits": torch.stack(logits).transpose(2, 3)}  # [S, B, K, T]

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return stage_losses(outputs["logits"], targets["labels"], targets["mask"], self.config.smooth_weight)

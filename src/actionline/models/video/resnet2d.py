"""2D ResNets in torchvision's layout (He et al., CVPR 2016): ResNet-18 / 34 (basic blocks) and ResNet-50 / 101
(bottlenecks, stride on the 3x3 as torchvision v1.5), so that users' torchvision ImageNet checkpoints load without
torchvision. Checked against `specs/torchvision` (keys, shapes, parameter counts, outputs under deterministic
weights). As a backbone: per-frame 512-d / 2048-d features (global average pool), ImageNet normalisation.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from actionline.models.backbone import Backbone, BackboneInput
from actionline.models.registry import register_backbone
from actionline.nn.networks.resnet2d_blocks import BasicBlock, Bottleneck


class ResNet2D(Backbone):
    """Stem (7x7/2 conv, 3x3/2 max-pool), four stages, global average pool, ``fc``."""

    input = BackboneInput(frames=1, size=224, short_side=256, scaling="imagenet")
    block: ClassVar[type[nn.Module]]
    layers: ClassVar[tuple[int, int, int, int]]

    def __init__(self, num_classes: int = 1000, width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = width
        for i, (planes, blocks) in enumerate(zip([width * m for m in (1, 2, 4, 8)], self.layers, strict=True)):
            stage = []
            for b in range(blocks):
                stage.append(self.block(cin, planes, 2 if (b == 0 and i > 0) else 1))
                cin = planes * self.block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        self.width_dim = cin  # feature size at this width (``feature_dim`` is the published network's)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] ImageNet-normalised -> [B, 512 or 2048]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


@register_backbone("resnet18")
class ResNet18(ResNet2D):
    block, layers, feature_dim = BasicBlock, (2, 2, 2, 2), 512


@register_backbone("resnet34")
class ResNet34(ResNet2D):
    block, layers, feature_dim = BasicBlock, (3, 4, 6, 3), 512


@register_backbone("resnet50")
class ResNet50(ResNet2D):
    block, layers, feature_dim = Bottleneck, (3, 4, 6, 3), 2048


@register_backbone("resnet101")
class ResNet101(ResNet2D):
    block, layers, feature_dim = Bottleneck, (3, 4, 23, 3), 2048
